#include "admin/input_text.h"

#include <gtest/gtest.h>

namespace kura::admin {
namespace {

TEST(IsValidUtf8, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("alice"));
  EXPECT_TRUE(IsValidUtf8("jos\xc3\xa9"));               // é
  EXPECT_TRUE(IsValidUtf8("\xe7\x94\xb0\xe4\xb8\xad"));  // 田中
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x90\xb3"));          // U+1F433
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));          // U+10FFFF
}

TEST(IsValidUtf8, RefusesMalformedText) {
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("ab\xc3"));            // truncated
  EXPECT_FALSE(IsValidUtf8("\x80"));              // stray continuation
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xc3\x28"));          // bad continuation
}

TEST(UserNameProblem, SaysWhatIsWrong) {
  EXPECT_FALSE(UserNameProblem("alice"));
  EXPECT_FALSE(UserNameProblem("jos\xc3\xa9"));
  EXPECT_FALSE(UserNameProblem(std::string(64, 'u')));
  EXPECT_NE(UserNameProblem("")->find("empty"), std::string::npos);
  EXPECT_NE(UserNameProblem(std::string(65, 'u'))->find("longer than 64"), std::string::npos);
  EXPECT_NE(UserNameProblem("\xff")->find("not valid UTF-8"), std::string::npos);
  EXPECT_NE(UserNameProblem("a:b")->find("':'"), std::string::npos);
  EXPECT_NE(UserNameProblem("a\nb")->find("control"), std::string::npos);
  EXPECT_NE(UserNameProblem(std::string("a\0b", 3))->find("control"), std::string::npos);
  EXPECT_NE(UserNameProblem("x\x7f")->find("control"), std::string::npos);
  EXPECT_NE(UserNameProblem("x\xc2\x85")->find("control"), std::string::npos);  // U+0085
}

TEST(DescriptionProblem, AllowsAnyTextButControlsAndLength) {
  EXPECT_FALSE(DescriptionProblem(""));
  EXPECT_FALSE(DescriptionProblem("\xe6\x9d\xb1\xe4\xba\xac office"));
  EXPECT_FALSE(DescriptionProblem(std::string(256, 'd')));
  EXPECT_TRUE(DescriptionProblem(std::string(257, 'd')));
  EXPECT_TRUE(DescriptionProblem("tab\there"));
  EXPECT_TRUE(DescriptionProblem("caf\xe9"));
}

TEST(Printable, QuotesAndEscapes) {
  EXPECT_EQ(Printable("acme"), "\"acme\"");
  EXPECT_EQ(Printable("\xff"
                      "a\n"),
            "\"\\xffa\\x0a\"");
  EXPECT_EQ(Printable("jos\xc3\xa9"), "\"jos\xc3\xa9\"");
  EXPECT_EQ(Printable("x\xc2\x85"), "\"x\\xc2\\x85\"");
  EXPECT_EQ(Printable(std::string(100, 'a')), "\"" + std::string(80, 'a') + "\"...");
}

}  // namespace
}  // namespace kura::admin
