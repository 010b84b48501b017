#include "core/digest.h"

#include <gtest/gtest.h>

namespace kura::core {
namespace {

TEST(DigestTest, ParsesSha256) {
  auto d = ParseDigest("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->algorithm(), "sha256");
  EXPECT_EQ(d->hex().size(), 64u);
}

TEST(DigestTest, RefusesMalformed) {
  EXPECT_FALSE(ParseDigest(""));
  EXPECT_FALSE(ParseDigest("sha256:"));
  EXPECT_FALSE(ParseDigest("sha256:xyz"));
  EXPECT_FALSE(ParseDigest("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
  EXPECT_FALSE(ParseDigest("md5:d41d8cd98f00b204e9800998ecf8427e"));
  EXPECT_FALSE(ParseDigest("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  EXPECT_FALSE(ParseDigest("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"));
}

TEST(DigestTest, HashesKnownVectors) {
  EXPECT_EQ(Sha256Of("").str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Of("abc").str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, StreamingEqualsOneShot) {
  std::string data(1 << 20, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31);
  Sha256 h;
  for (size_t i = 0; i < data.size(); i += 4097) h.Update(std::string_view(data).substr(i, 4097));
  EXPECT_EQ(h.bytes(), data.size());
  EXPECT_EQ(h.Finish(), Sha256Of(data));
}

}  // namespace
}  // namespace kura::core
