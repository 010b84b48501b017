#include "access/hostnames.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace kura::access {
namespace {

constexpr char kDomain[] = "kura.test";

TEST(EndpointHostname, Builds) {
  EXPECT_EQ(EndpointHostname("acme", "ap-northeast-1", EndpointKind::kInternet, kDomain),
            "acme-registry.ap-northeast-1.kura.test");
  EXPECT_EQ(EndpointHostname("acme", "ap-northeast-1", EndpointKind::kVpc, kDomain),
            "acme-registry-vpc.ap-northeast-1.kura.test");
  EXPECT_EQ(EndpointHostname("acme", "eu-1", EndpointKind::kVpc, "cr.example.com"),
            "acme-registry-vpc.eu-1.cr.example.com");
}

TEST(ParseEndpointHost, ParsesBothKinds) {
  EXPECT_EQ(ParseEndpointHost("acme-registry.ap-northeast-1.kura.test", kDomain),
            (EndpointAddress{"acme", "ap-northeast-1", EndpointKind::kInternet}));
  EXPECT_EQ(ParseEndpointHost("acme-registry-vpc.ap-northeast-1.kura.test", kDomain),
            (EndpointAddress{"acme", "ap-northeast-1", EndpointKind::kVpc}));
}

TEST(ParseEndpointHost, AcceptsPortCaseAndTrailingDot) {
  EXPECT_EQ(ParseEndpointHost("acme-registry-vpc.ap-northeast-1.kura.test:5000", kDomain),
            (EndpointAddress{"acme", "ap-northeast-1", EndpointKind::kVpc}));
  EXPECT_EQ(ParseEndpointHost("ACME-Registry.AP-Northeast-1.Kura.Test", kDomain),
            (EndpointAddress{"acme", "ap-northeast-1", EndpointKind::kInternet}));
  EXPECT_EQ(ParseEndpointHost("acme-registry.ap-northeast-1.kura.test.:443", kDomain),
            (EndpointAddress{"acme", "ap-northeast-1", EndpointKind::kInternet}));
  EXPECT_EQ(ParseEndpointHost("acme-registry.r.cr.example.com", "CR.Example.com"),
            (EndpointAddress{"acme", "r", EndpointKind::kInternet}));
}

// The request path's parse copies nothing from a lower-case host, and lower-cases any other into
// the caller's string.
TEST(ParseEndpointHostView, ViewsIntoTheHostOrItsLowerCasedCopy) {
  const std::string host = "acme-registry-vpc.ap-northeast-1.kura.test:5000";
  std::string lowered;
  std::optional<EndpointAddressView> view = ParseEndpointHostView(host, "Kura.Test", &lowered);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->instance, "acme");
  EXPECT_EQ(view->region, "ap-northeast-1");
  EXPECT_EQ(view->kind, EndpointKind::kVpc);
  EXPECT_EQ(view->instance.data(), host.data());
  EXPECT_TRUE(lowered.empty());

  const std::string upper = "ACME-Registry.AP-Northeast-1.Kura.Test.";
  view = ParseEndpointHostView(upper, kDomain, &lowered);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->instance, "acme");
  EXPECT_EQ(view->region, "ap-northeast-1");
  EXPECT_EQ(lowered, "acme-registry.ap-northeast-1.kura.test");
  EXPECT_EQ(view->instance.data(), lowered.data());

  std::string error;
  EXPECT_FALSE(ParseEndpointHostView("acme-registry.kura.test", kDomain, &lowered, &error));
  EXPECT_EQ(error, "host \"acme-registry.kura.test\" has no region label");
}

TEST(ParseEndpointHost, RoundTripsNamesThatContainTheSuffixes) {
  for (const char* name :
       {"registry", "my-registry", "my-registry-vpc", "a-registry-vpc-registry", "a", "x1-2"}) {
    for (EndpointKind kind : {EndpointKind::kInternet, EndpointKind::kVpc}) {
      std::string host = EndpointHostname(name, "ap-northeast-1", kind, kDomain);
      std::string error;
      std::optional<EndpointAddress> parsed = ParseEndpointHost(host, kDomain, &error);
      ASSERT_TRUE(parsed.has_value()) << host << ": " << error;
      EXPECT_EQ(*parsed, (EndpointAddress{name, "ap-northeast-1", kind})) << host;
    }
  }
}

TEST(ParseEndpointHost, RefusesBadHostsWithAReason) {
  struct Case {
    const char* host;
    const char* error;
  };
  for (const Case& c : {
           Case{"", "host \"\" is empty"},
           Case{"[::1]:5000", "host \"[::1]:5000\" is an IP literal, not an endpoint hostname"},
           Case{"::1", "host \"::1\" is an IP literal, not an endpoint hostname"},
           Case{"192.0.2.1:5000", "host \"192.0.2.1:5000\" is not under domain kura.test"},
           Case{"acme-registry.ap-northeast-1.other.test",
                "host \"acme-registry.ap-northeast-1.other.test\" is not under domain kura.test"},
           Case{"kura.test", "host \"kura.test\" is not under domain kura.test"},
           Case{"acme-registry.xkura.test",
                "host \"acme-registry.xkura.test\" is not under domain "
                "kura.test"},
           Case{"acme-registry.kura.test", "host \"acme-registry.kura.test\" has no region label"},
           Case{"acme.ap-northeast-1.kura.test",
                "host \"acme.ap-northeast-1.kura.test\" names no endpoint: its first label ends in "
                "neither -registry nor -registry-vpc"},
           Case{"acme-registry.a.b.kura.test",
                "host \"acme-registry.a.b.kura.test\" has an invalid region \"a.b\""},
           Case{"-registry.ap-northeast-1.kura.test",
                "host \"-registry.ap-northeast-1.kura.test\" has an invalid instance name \"\""},
           Case{"1acme-registry.r.kura.test",
                "host \"1acme-registry.r.kura.test\" has an invalid instance name \"1acme\""},
           Case{"ac_me-registry.r.kura.test",
                "host \"ac_me-registry.r.kura.test\" has an invalid instance name \"ac_me\""},
           Case{"acme-registry.r.kura.test:0",
                "host \"acme-registry.r.kura.test:0\" has an invalid port"},
           Case{"acme-registry.r.kura.test:65536",
                "host \"acme-registry.r.kura.test:65536\" has an invalid port"},
           Case{"acme-registry.r.kura.test:",
                "host \"acme-registry.r.kura.test:\" has an invalid port"},
           Case{"acme-registry.r.kura.test:http",
                "host \"acme-registry.r.kura.test:http\" has an invalid port"},
       }) {
    std::string error;
    EXPECT_FALSE(ParseEndpointHost(c.host, kDomain, &error).has_value()) << c.host;
    EXPECT_EQ(error, c.error);
  }
}

TEST(Names, Validity) {
  EXPECT_TRUE(IsValidInstanceName("acme"));
  EXPECT_TRUE(IsValidInstanceName(std::string(kMaxInstanceNameLength, 'a')));
  EXPECT_FALSE(IsValidInstanceName(std::string(kMaxInstanceNameLength + 1, 'a')));
  EXPECT_FALSE(IsValidInstanceName(""));
  EXPECT_FALSE(IsValidInstanceName("Acme"));
  EXPECT_FALSE(IsValidInstanceName("acme-"));
  EXPECT_TRUE(IsValidRegionId("ap-northeast-1"));
  EXPECT_TRUE(IsValidRegionId("1"));
  EXPECT_FALSE(IsValidRegionId("-ap"));
  EXPECT_FALSE(IsValidRegionId("ap.x"));
  EXPECT_TRUE(IsValidDomain("kura.test"));
  EXPECT_TRUE(IsValidDomain("localhost"));
  EXPECT_FALSE(IsValidDomain("kura..test"));
  EXPECT_FALSE(IsValidDomain(".kura.test"));
  EXPECT_FALSE(IsValidDomain("kura.test."));
  EXPECT_FALSE(IsValidDomain(std::string(64, 'a') + ".test"));
}

}  // namespace
}  // namespace kura::access
