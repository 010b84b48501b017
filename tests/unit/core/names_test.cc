#include "core/names.h"

#include <gtest/gtest.h>

namespace kura::core {
namespace {

TEST(NamesTest, AcceptsSpecRepositoryNames) {
  for (const char* ok : {"a", "library/ubuntu", "a/b/c", "foo.bar", "foo_bar", "foo__bar",
                         "foo---bar", "0", "my-org/my.app_1"}) {
    EXPECT_TRUE(IsValidRepositoryName(ok)) << ok;
  }
}

TEST(NamesTest, RefusesBadRepositoryNames) {
  for (const char* bad : {"", "Foo", "..", "a/../b", "a//b", "/a", "a/", "-a", "a-", "a.",
                          "a..b", "a___b", "a b", "a:b", "a@b", "_a"}) {
    EXPECT_FALSE(IsValidRepositoryName(bad)) << bad;
  }
  EXPECT_TRUE(IsValidRepositoryName(std::string(255, 'a')));
  EXPECT_FALSE(IsValidRepositoryName(std::string(256, 'a')));
}

TEST(NamesTest, Tags) {
  EXPECT_TRUE(IsValidTag("latest"));
  EXPECT_TRUE(IsValidTag("v1.2.3-rc_1"));
  EXPECT_TRUE(IsValidTag("_x"));
  EXPECT_TRUE(IsValidTag(std::string(128, 'a')));
  EXPECT_FALSE(IsValidTag(std::string(129, 'a')));
  EXPECT_FALSE(IsValidTag(""));
  EXPECT_FALSE(IsValidTag(".x"));
  EXPECT_FALSE(IsValidTag("-x"));
  EXPECT_FALSE(IsValidTag("a/b"));
  EXPECT_FALSE(IsValidTag("a:b"));
}

}  // namespace
}  // namespace kura::core
