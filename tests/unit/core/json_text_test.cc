#include "core/json_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kura::core {
namespace {

std::string Quoted(std::string_view text) {
  std::string out = "prefix:";
  AppendJsonString(out, text);
  return out;
}

TEST(JsonText, PlainTextIsQuotedAndAppended) {
  EXPECT_EQ(Quoted("v1.2-rc_3"), "prefix:\"v1.2-rc_3\"");
  EXPECT_EQ(Quoted(""), "prefix:\"\"");
}

TEST(JsonText, QuotesBackslashesAndControlCharactersAreEscaped) {
  EXPECT_EQ(Quoted("a\"b\\c"), "prefix:\"a\\\"b\\\\c\"");
  EXPECT_EQ(Quoted("l1\nl2\r\t"), "prefix:\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(Quoted(std::string_view("\x01\x1f", 2)), "prefix:\"\\u0001\\u001f\"");
}

TEST(JsonText, EveryByteRoundTripsThroughAJsonParser) {
  std::string all;
  for (int c = 1; c < 0x80; ++c) all += static_cast<char>(c);
  std::string out;
  AppendJsonString(out, all);
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), all);
}

TEST(JsonText, ArraysOfStrings) {
  std::string out;
  AppendJsonStringArray(out, {});
  EXPECT_EQ(out, "[]");
  out.clear();
  AppendJsonStringArray(out, {"a", "b\"c", ""});
  EXPECT_EQ(out, "[\"a\",\"b\\\"c\",\"\"]");
  EXPECT_EQ(nlohmann::json::parse(out), nlohmann::json({"a", "b\"c", ""}));
}

}  // namespace
}  // namespace kura::core
