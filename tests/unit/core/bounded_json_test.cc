#include "core/bounded_json.h"

#include <gtest/gtest.h>

namespace kura::core {
namespace {

TEST(JsonNestingDepth, CountsArraysAndObjectsOutsideStrings) {
  EXPECT_EQ(JsonNestingDepth("1", 64), 0);
  EXPECT_EQ(JsonNestingDepth(R"({"a":[1,{"b":[]}]})", 64), 4);
  EXPECT_EQ(JsonNestingDepth(R"({"a":"[[[[{{{{"})", 64), 1);
  EXPECT_EQ(JsonNestingDepth(R"(["\"[[[["])", 64), 1);   // an escaped quote does not end it
  EXPECT_EQ(JsonNestingDepth(R"(["\\",[[]]])", 64), 3);  // an escaped backslash does
}

TEST(JsonNestingDepth, StopsCountingPastTheLimit) {
  std::string deep(100000, '[');
  EXPECT_EQ(JsonNestingDepth(deep, 64), 65);
}

TEST(ParseBoundedJson, AcceptsTheLimitAndRefusesOneLevelMore) {
  std::string why;
  std::string at_limit = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  auto ok = ParseBoundedJson(at_limit, &why);
  ASSERT_TRUE(ok) << why;
  EXPECT_EQ(ok->dump(), at_limit);
  std::string over = "[" + at_limit + "]";
  EXPECT_FALSE(ParseBoundedJson(over, &why));
  EXPECT_EQ(why, "nested deeper than 64 levels");
}

TEST(ParseBoundedJson, RefusesADeepBodyOfTheSizeThatCrashedTheServer) {
  // 100,000 levels inside annotations, about 200 KB: dump() of it overflowed the stack.
  std::string body = R"({"schemaVersion":2,"annotations":{"a":)" + std::string(100000, '[') +
                     std::string(100000, ']') + "}}";
  std::string why;
  EXPECT_FALSE(ParseBoundedJson(body, &why));
  EXPECT_EQ(why, "nested deeper than 64 levels");
}

TEST(ParseBoundedJson, RefusesMalformedTextAndInvalidUtf8) {
  std::string why;
  EXPECT_FALSE(ParseBoundedJson("{", &why));
  EXPECT_EQ(why, "not valid JSON");
  EXPECT_FALSE(ParseBoundedJson("{\"a\":\"\xff\"}", &why));
  EXPECT_EQ(why, "not valid JSON");
  EXPECT_FALSE(ParseBoundedJson("", &why));
}

TEST(ParseBoundedJson, WhatItAcceptsCanBeDumpedAgain) {
  std::string why;
  auto doc = ParseBoundedJson("{\"k\":\"caf\xc3\xa9\",\"n\":[1,2,{\"x\":null}]}", &why);
  ASSERT_TRUE(doc) << why;
  EXPECT_EQ(doc->dump(), "{\"k\":\"caf\xc3\xa9\",\"n\":[1,2,{\"x\":null}]}");
}

}  // namespace
}  // namespace kura::core
