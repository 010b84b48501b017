// Every row of every table of EXPOSURE.md, through Admit().

#include "access/policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "report_world.h"

namespace kura::access {
namespace {

using testing::Check;
using testing::Cidr;
using testing::FromHost;
using testing::Ip;
using testing::Net;
using testing::ReportWorld;

Decision AdmitFromHost(const World& world, std::string_view host, EndpointKind kind) {
  return Admit(FromHost(world, host, kind), *world.FindInstance("acme"));
}

// ---- Personal edition.
//
// | host  | Internet endpoint | VPC endpoint |
// | ECS-A | allowed           | allowed      |
// | ECS-B | allowed           | denied       |

TEST(PersonalEdition, EcsAInternetAllowed) {
  World world = ReportWorld(Edition::kPersonal);
  Decision d = AdmitFromHost(world, "ecs-a", EndpointKind::kInternet);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(RuleName(d.rule), "internet-open");
}

TEST(PersonalEdition, EcsAVpcAllowed) {
  World world = ReportWorld(Edition::kPersonal);
  Decision d = AdmitFromHost(world, "ecs-a", EndpointKind::kVpc);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(RuleName(d.rule), "same-region");
}

TEST(PersonalEdition, EcsBInternetAllowed) {
  World world = ReportWorld(Edition::kPersonal);
  Decision d = AdmitFromHost(world, "ecs-b", EndpointKind::kInternet);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(RuleName(d.rule), "internet-open");
}

TEST(PersonalEdition, EcsBVpcDenied) {
  World world = ReportWorld(Edition::kPersonal);
  Decision d = AdmitFromHost(world, "ecs-b", EndpointKind::kVpc);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(RuleName(d.rule), "other-region");
  EXPECT_EQ(d.reason, "network vpc-b is in region ap-southeast-1, instance acme in ap-northeast-1");
}

TEST(PersonalEdition, VpcEndpointAdmitsAnotherAccountsNetworkOfTheRegion) {
  World world = ReportWorld(Edition::kPersonal);
  Check(world.AddNetwork({"vpc-c", "B", "ap-northeast-1", {Cidr("172.16.0.0/12")}}));
  ConnectionContext context{EndpointKind::kVpc, Ip("172.16.0.5"),
                            world.ArrivalThrough(Net(world, "vpc-c"))};
  Decision d = Admit(context, *world.FindInstance("acme"));
  EXPECT_TRUE(d.allowed) << d.reason;
  EXPECT_EQ(RuleName(d.rule), "same-region");
}

TEST(PersonalEdition, InternetEndpointAdmitsAnySource) {
  World world = ReportWorld(Edition::kPersonal);
  for (const char* source : {"192.0.2.1", "2001:db8::1", "0.0.0.0"}) {
    ConnectionContext context{EndpointKind::kInternet, Ip(source), std::nullopt};
    EXPECT_TRUE(Admit(context, *world.FindInstance("acme")).allowed) << source;
  }
}

TEST(PersonalEdition, VpcEndpointDeniesTrafficThatArrivesThroughNoNetwork) {
  World world = ReportWorld(Edition::kPersonal);
  ConnectionContext context{EndpointKind::kVpc, Ip("198.51.100.10"), std::nullopt};
  Decision d = Admit(context, *world.FindInstance("acme"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(RuleName(d.rule), "no-arrival-network");
}

// ---- Enterprise edition: Internet endpoint.
//
// | host  | disabled | all IPs allowed | only ECS-A's public IP | only ECS-B's public IP |
// | ECS-A | denied   | allowed         | allowed                | denied                 |
// | ECS-B | denied   | allowed         | denied                 | allowed                |

enum class InternetSetting { kDisabled, kAll, kOnlyA, kOnlyB };

World EnterpriseWith(InternetSetting setting) {
  World world = ReportWorld(Edition::kEnterprise);
  if (setting == InternetSetting::kDisabled) return world;
  Check(world.SetInternetEnabled("acme", true));
  switch (setting) {
    case InternetSetting::kAll:
      Check(world.AllowCidr("acme", {Cidr("0.0.0.0/0"), "all IPs"}));
      break;
    case InternetSetting::kOnlyA:
      Check(world.AllowCidr("acme", {Cidr("198.51.100.10/32"), "ECS-A"}));
      break;
    case InternetSetting::kOnlyB:
      Check(world.AllowCidr("acme", {Cidr("203.0.113.20/32"), "ECS-B"}));
      break;
    case InternetSetting::kDisabled:
      break;
  }
  return world;
}

struct InternetRow {
  const char* host;
  InternetSetting setting;
  bool allowed;
  const char* rule;
};

class EnterpriseInternetTable : public ::testing::TestWithParam<InternetRow> {};

TEST_P(EnterpriseInternetTable, Row) {
  const InternetRow& row = GetParam();
  World world = EnterpriseWith(row.setting);
  Decision d = AdmitFromHost(world, row.host, EndpointKind::kInternet);
  EXPECT_EQ(d.allowed, row.allowed) << d.reason;
  EXPECT_EQ(RuleName(d.rule), row.rule) << d.reason;
}

INSTANTIATE_TEST_SUITE_P(
    Exposure, EnterpriseInternetTable,
    ::testing::Values(InternetRow{"ecs-a", InternetSetting::kDisabled, false, "internet-disabled"},
                      InternetRow{"ecs-a", InternetSetting::kAll, true, "in-allowlist"},
                      InternetRow{"ecs-a", InternetSetting::kOnlyA, true, "in-allowlist"},
                      InternetRow{"ecs-a", InternetSetting::kOnlyB, false, "not-in-allowlist"},
                      InternetRow{"ecs-b", InternetSetting::kDisabled, false, "internet-disabled"},
                      InternetRow{"ecs-b", InternetSetting::kAll, true, "in-allowlist"},
                      InternetRow{"ecs-b", InternetSetting::kOnlyA, false, "not-in-allowlist"},
                      InternetRow{"ecs-b", InternetSetting::kOnlyB, true, "in-allowlist"}));

TEST(EnterpriseInternet, ReasonsNameTheRuleAndTheInstance) {
  World disabled = EnterpriseWith(InternetSetting::kDisabled);
  EXPECT_EQ(AdmitFromHost(disabled, "ecs-a", EndpointKind::kInternet).reason,
            "internet endpoint of instance acme is disabled");

  World only_b = EnterpriseWith(InternetSetting::kOnlyB);
  ConnectionContext stranger{EndpointKind::kInternet, Ip("198.51.100.7"), std::nullopt};
  EXPECT_EQ(Admit(stranger, *only_b.FindInstance("acme")).reason,
            "198.51.100.7 is not in the allowlist of instance acme");
  EXPECT_EQ(AdmitFromHost(only_b, "ecs-b", EndpointKind::kInternet).reason,
            "203.0.113.20 is in the allowlist of instance acme (entry 203.0.113.20/32 \"ECS-B\")");
}

TEST(EnterpriseInternet, EnabledWithAnEmptyAllowlistAdmitsNobody) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.SetInternetEnabled("acme", true));
  Decision d = AdmitFromHost(world, "ecs-a", EndpointKind::kInternet);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(RuleName(d.rule), "not-in-allowlist");
}

TEST(EnterpriseInternet, DisablingKeepsTheAllowlistButAdmitsNobody) {
  World world = EnterpriseWith(InternetSetting::kAll);
  Check(world.SetInternetEnabled("acme", false));
  EXPECT_EQ(world.FindInstance("acme")->internet.allowlist.size(), 1u);
  EXPECT_EQ(RuleName(AdmitFromHost(world, "ecs-a", EndpointKind::kInternet).rule),
            "internet-disabled");
}

TEST(EnterpriseInternet, Ipv4MappedSourceMatchesIpv4Entry) {
  World world = EnterpriseWith(InternetSetting::kOnlyA);
  ConnectionContext context{EndpointKind::kInternet, Ip("::ffff:198.51.100.10"), std::nullopt};
  Decision d = Admit(context, *world.FindInstance("acme"));
  EXPECT_TRUE(d.allowed) << d.reason;
  EXPECT_EQ(
      d.reason,
      "198.51.100.10 is in the allowlist of instance acme (entry 198.51.100.10/32 \"ECS-A\")");
}

TEST(EnterpriseInternet, DenialsOnlySkipsTheReasonOfAnAdmissionNotOfADenial) {
  World world = EnterpriseWith(InternetSetting::kOnlyA);
  const Instance& acme = *world.FindInstance("acme");
  ConnectionContext in{EndpointKind::kInternet, Ip("198.51.100.10"), std::nullopt};
  ConnectionContext out{EndpointKind::kInternet, Ip("203.0.113.9"), std::nullopt};
  Decision admitted = Admit(in, acme, Reasons::kDenialsOnly);
  EXPECT_TRUE(admitted.allowed);
  EXPECT_EQ(RuleName(admitted.rule), "in-allowlist");
  EXPECT_EQ(admitted.reason, "");
  Decision denied = Admit(out, acme, Reasons::kDenialsOnly);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.reason, Admit(out, acme).reason);
  EXPECT_EQ(denied.reason, "203.0.113.9 is not in the allowlist of instance acme");
}

TEST(EnterpriseInternet, AllIpv4DoesNotAdmitIpv6) {
  World world = EnterpriseWith(InternetSetting::kAll);
  ConnectionContext context{EndpointKind::kInternet, Ip("2001:db8::1"), std::nullopt};
  EXPECT_FALSE(Admit(context, *world.FindInstance("acme")).allowed);
  Check(world.AllowCidr("acme", {Cidr("::/0"), "all IPv6"}));
  EXPECT_TRUE(Admit(context, *world.FindInstance("acme")).allowed);
}

// ---- Enterprise edition: VPC endpoint.
//
// | host  | no VPC bound                   | VPC-A bound                    |
// | ECS-A | denied                         | allowed                        |
// | ECS-B | denied (VPC-B cannot be bound) | denied (VPC-B cannot be bound) |

TEST(EnterpriseVpc, NoBindingEcsADenied) {
  World world = ReportWorld(Edition::kEnterprise);
  Decision d = AdmitFromHost(world, "ecs-a", EndpointKind::kVpc);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(RuleName(d.rule), "network-not-bound");
  EXPECT_EQ(d.reason, "network vpc-a is not bound to instance acme");
}

TEST(EnterpriseVpc, NoBindingEcsBDeniedAndVpcBCannotBeBound) {
  World world = ReportWorld(Edition::kEnterprise);
  Decision d = AdmitFromHost(world, "ecs-b", EndpointKind::kVpc);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(RuleName(d.rule), "network-not-bound");
  EXPECT_EQ(d.reason, "network vpc-b of account B is not bound to instance acme");
  EXPECT_EQ(world.Bind("acme", Net(world, "vpc-b"), "vsw-b").code(), Status::Code::kRefused);
}

TEST(EnterpriseVpc, VpcABoundEcsAAllowed) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a"));
  Decision d = AdmitFromHost(world, "ecs-a", EndpointKind::kVpc);
  EXPECT_TRUE(d.allowed) << d.reason;
  EXPECT_EQ(RuleName(d.rule), "network-bound");
  EXPECT_EQ(d.reason, "network vpc-a is bound to instance acme");
}

TEST(EnterpriseVpc, VpcABoundEcsBDeniedAndVpcBCannotBeBound) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a"));
  Decision d = AdmitFromHost(world, "ecs-b", EndpointKind::kVpc);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(RuleName(d.rule), "network-not-bound");
  EXPECT_EQ(world.Bind("acme", Net(world, "vpc-b"), "vsw-b").code(), Status::Code::kRefused);
}

TEST(EnterpriseVpc, SameRegionAloneIsNotEnough) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a"));
  Check(world.AddNetwork({"vpc-a2", "A", "ap-northeast-1", {Cidr("172.16.0.0/12")}}));
  ConnectionContext context{EndpointKind::kVpc, Ip("172.16.0.5"),
                            world.ArrivalThrough(Net(world, "vpc-a2"))};
  Decision d = Admit(context, *world.FindInstance("acme"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "network vpc-a2 is not bound to instance acme");
}

TEST(EnterpriseVpc, UnbindingClosesAgain) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a"));
  Check(world.Unbind("acme", "vpc-a"));
  EXPECT_FALSE(AdmitFromHost(world, "ecs-a", EndpointKind::kVpc).allowed);
}

TEST(EnterpriseVpc, NoArrivalNetworkIsDenied) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a"));
  ConnectionContext context{EndpointKind::kVpc, Ip("192.168.0.1"), std::nullopt};
  Decision d = Admit(context, *world.FindInstance("acme"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(RuleName(d.rule), "no-arrival-network");
  EXPECT_EQ(d.reason,
            "vpc endpoint of instance acme admits only traffic arriving through a network");
}

// The report's sharing solution: ECS-B reaches the endpoint across a transit network, so its
// traffic arrives through the bound VPC-A. Admission passes; resolving and routing are the
// analyzer's steps.
TEST(EnterpriseVpc, TrafficFromVpcBAcrossTransitArrivesThroughVpcAAndIsAdmitted) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a"));
  Check(world.AddTransitNetwork({"cen-1", {Net(world, "vpc-a"), Net(world, "vpc-b")}}));
  ConnectionContext context{EndpointKind::kVpc, Ip("10.0.0.1"),
                            world.ArrivalThrough(Net(world, "vpc-a"))};
  Decision d = Admit(context, *world.FindInstance("acme"));
  EXPECT_TRUE(d.allowed) << d.reason;
}

TEST(Rules, EveryRuleHasAName) {
  std::vector<std::string_view> names;
  for (Rule rule : {Rule::kInternetOpen, Rule::kInternetDisabled, Rule::kInAllowlist,
                    Rule::kNotInAllowlist, Rule::kNoArrivalNetwork, Rule::kSameRegion,
                    Rule::kOtherRegion, Rule::kNetworkBound, Rule::kNetworkNotBound}) {
    names.push_back(RuleName(rule));
  }
  EXPECT_EQ(names,
            (std::vector<std::string_view>{"internet-open", "internet-disabled", "in-allowlist",
                                           "not-in-allowlist", "no-arrival-network", "same-region",
                                           "other-region", "network-bound", "network-not-bound"}));
}

}  // namespace
}  // namespace kura::access
