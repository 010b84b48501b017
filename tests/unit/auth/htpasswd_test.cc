#include "auth/htpasswd.h"

#include <gtest/gtest.h>

namespace kura::auth {
namespace {

// Made by `htpasswd -Bbn alice secret` (bcrypt, cost 5).
constexpr const char* kAlice = "alice:$2y$05$dzO6q/nHsY4hbkQHMXGXQOX61LBxYIfYr1HV82I7DqvxAbo8fqF.q\n";

TEST(HtpasswdTest, VerifiesBcrypt) {
  HtpasswdFile f(kAlice, "test");
  EXPECT_EQ(f.size(), 1u);
  EXPECT_TRUE(f.Verify("alice", "secret"));
  EXPECT_TRUE(f.Verify("alice", "secret"));  // remembered
  EXPECT_FALSE(f.Verify("alice", "Secret"));
  EXPECT_FALSE(f.Verify("bob", "secret"));
  EXPECT_FALSE(f.Verify("alice", ""));
}

TEST(HtpasswdTest, RefusesMalformedLinesNamingTheLine) {
  try {
    HtpasswdFile f("# comment\nalice:plaintext\n", "users");
    FAIL() << "accepted a plain-text password";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "users:2: unsupported hash (use htpasswd -B for bcrypt)");
  }
  EXPECT_THROW(HtpasswdFile("nocolon\n", "users"), std::runtime_error);
}

TEST(BasicAuthorizationTest, Decodes) {
  auto c = ParseBasicAuthorization("Basic YWxpY2U6c2VjcmV0");  // alice:secret
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "alice");
  EXPECT_EQ(c->password, "secret");
  auto colon = ParseBasicAuthorization("basic YTpiOmM=");  // a:b:c
  ASSERT_TRUE(colon);
  EXPECT_EQ(colon->password, "b:c");
  EXPECT_FALSE(ParseBasicAuthorization("Bearer abc"));
  EXPECT_FALSE(ParseBasicAuthorization("Basic !!!!"));
  EXPECT_FALSE(ParseBasicAuthorization("Basic YWxpY2U="));  // no colon
  EXPECT_FALSE(ParseBasicAuthorization(""));
}

}  // namespace
}  // namespace kura::auth
