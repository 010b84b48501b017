#include "auth/scope.h"

#include <gtest/gtest.h>

namespace kura::auth {
namespace {


TEST(ScopeTest, ParsesRepositoryScope) {
  auto scope = ParseScope("repository:samalba/my-app:pull,push");
  ASSERT_TRUE(scope);
  ASSERT_EQ(scope->size(), 1u);
  EXPECT_EQ((*scope)[0], (Access{"repository", "samalba/my-app", {"pull", "push"}}));
}

TEST(ScopeTest, ParsesCatalogAndWildcard) {
  auto scope = ParseScope("registry:catalog:*");
  ASSERT_TRUE(scope);
  EXPECT_EQ(*scope, (std::vector<Access>{{"registry", "catalog", {"*"}}}));
  scope = ParseScope("repository:foo:delete,*");
  ASSERT_TRUE(scope);
  EXPECT_EQ((*scope)[0].actions, (Actions{"*", "delete"}));
}

TEST(ScopeTest, NameMayHoldHostAndPort) {
  auto scope = ParseScope("repository:localhost:5000/team/app:pull");
  ASSERT_TRUE(scope);
  EXPECT_EQ(*scope, (std::vector<Access>{{"repository", "localhost:5000/team/app", {"pull"}}}));
}

TEST(ScopeTest, DropsResourceClass) {
  auto scope = ParseScope("repository(plugin):vieux/sshfs:pull");
  ASSERT_TRUE(scope);
  EXPECT_EQ(*scope, (std::vector<Access>{{"repository", "vieux/sshfs", {"pull"}}}));
  EXPECT_FALSE(ParseScope("repository(:foo:pull"));
  EXPECT_FALSE(ParseScope("repository():foo:pull"));
  EXPECT_FALSE(ParseScope("repository(Plugin):foo:pull"));
  EXPECT_FALSE(ParseScope("(plugin):foo:pull"));
}

TEST(ScopeTest, SeveralScopesSeparatedBySpaces) {
  auto scope = ParseScope("repository:a:pull  repository:b:push registry:catalog:* ");
  ASSERT_TRUE(scope);
  EXPECT_EQ(*scope, (std::vector<Access>{{"repository", "a", {"pull"}},
                                         {"repository", "b", {"push"}},
                                         {"registry", "catalog", {"*"}}}));
}

TEST(ScopeTest, MergesSameResource) {
  auto scope = ParseScope("repository:a:pull repository:b:pull repository:a:push");
  ASSERT_TRUE(scope);
  EXPECT_EQ(*scope, (std::vector<Access>{{"repository", "a", {"pull", "push"}},
                                         {"repository", "b", {"pull"}}}));
}

TEST(ScopeTest, SkipsEmptyActionItems) {
  auto scope = ParseScope("repository:a:pull,,push,");
  ASSERT_TRUE(scope);
  EXPECT_EQ((*scope)[0].actions, (Actions{"pull", "push"}));
}

TEST(ScopeTest, KeepsUnknownActions) {
  auto scope = ParseScope("repository:a:pull,frobnicate");
  ASSERT_TRUE(scope);
  EXPECT_EQ((*scope)[0].actions, (Actions{"frobnicate", "pull"}));
  EXPECT_FALSE(IsKnownAction("frobnicate"));
  EXPECT_TRUE(IsKnownAction("pull"));
  EXPECT_TRUE(IsKnownAction("push"));
  EXPECT_TRUE(IsKnownAction("delete"));
  EXPECT_TRUE(IsKnownAction("*"));
}

TEST(ScopeTest, RefusesMalformed) {
  for (const char* bad : {
           "",                           // empty
           "   ",                        // only spaces
           "repository",                 // no name, no actions
           "repository:foo",             // no actions
           "repository:foo:",            // empty actions
           "repository:foo:,",           // only empty actions
           "repository::pull",           // empty name
           ":foo:pull",                  // empty type
           "Repository:foo:pull",        // type not lowercase
           "repo-sitory:foo:pull",       // type with '-'
           "repository:foo:Pull",        // action not lowercase
           "repository:foo:pull,pu-sh",  // action with '-'
           "repository:foo:**",          // '*' only alone
           "repository:fo\"o:pull",      // quote in name
           "repository:fo\\o:pull",      // backslash in name
           "repository:fo,o:pull",       // comma in name
           "repository:fo\to:pull",      // tab in name
           "repository:a:pull bogus",    // one bad among good ones
       }) {
    EXPECT_FALSE(ParseScope(bad)) << '"' << bad << '"';
  }
}

TEST(ScopeTest, ParsesSeveralParams) {
  auto scope = ParseScopeParams({"repository:a:pull", "", "repository:a:push registry:catalog:*"});
  ASSERT_TRUE(scope);
  EXPECT_EQ(*scope, (std::vector<Access>{{"repository", "a", {"pull", "push"}},
                                         {"registry", "catalog", {"*"}}}));
  scope = ParseScopeParams({});
  ASSERT_TRUE(scope);
  EXPECT_TRUE(scope->empty());
  EXPECT_FALSE(ParseScopeParams({"repository:a:pull", "repository:b"}));
  EXPECT_FALSE(ParseScopeParams({" "}));
}

TEST(ScopeTest, FormatsCanonically) {
  EXPECT_EQ(FormatAccess({"repository", "foo", {"push", "pull"}}), "repository:foo:pull,push");
  std::vector<Access> list{{"repository", "localhost:5000/foo", {"delete", "pull"}},
                           {"registry", "catalog", {"*"}}};
  std::string text = FormatScope(list);
  EXPECT_EQ(text, "repository:localhost:5000/foo:delete,pull registry:catalog:*");
  EXPECT_EQ(ParseScope(text), list);
  EXPECT_EQ(FormatScope({}), "");
}

TEST(ScopeTest, QuotesHeaderValues) {
  EXPECT_EQ(QuoteHeaderValue("plain"), "\"plain\"");
  EXPECT_EQ(QuoteHeaderValue("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(QuoteHeaderValue("evil\r\nSet-Cookie: x"), "\"evilSet-Cookie: x\"");
  EXPECT_EQ(QuoteHeaderValue(std::string_view("a\0b\x7f\tc", 6)), "\"ab\tc\"");
}

TEST(ScopeTest, FormatsBearerChallenge) {
  EXPECT_EQ(BearerChallenge("https://r.example/token", "r.example"),
            R"(Bearer realm="https://r.example/token",service="r.example")");
  EXPECT_EQ(BearerChallenge("https://r.example/token", "r.example", "repository:foo:pull,push"),
            R"(Bearer realm="https://r.example/token",service="r.example",)"
            R"(scope="repository:foo:pull,push")");
  EXPECT_EQ(BearerChallenge("https://r.example/token", "r.example", "repository:foo:push",
                            "insufficient_scope"),
            R"(Bearer realm="https://r.example/token",service="r.example",)"
            R"(scope="repository:foo:push",error="insufficient_scope")");
  EXPECT_EQ(BearerChallenge("r", "s", std::nullopt, "insufficient_scope"),
            R"(Bearer realm="r",service="s",error="insufficient_scope")");
  EXPECT_EQ(BearerChallenge("r", "s", "", ""), R"(Bearer realm="r",service="s")");
  EXPECT_EQ(BearerChallenge("https://x/\"tok\"", "my \\ svc\r\n"),
            R"(Bearer realm="https://x/\"tok\"",service="my \\ svc")");
}

}  // namespace
}  // namespace kura::auth
