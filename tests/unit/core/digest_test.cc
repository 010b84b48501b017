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
// A hash saved part-way and restored (as on another node) ends where one hash of it all ends,
// wherever the cut falls inside SHA-256's 64-byte block.
TEST(DigestTest, SavedStateResumesTheSameHash) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7));
  for (size_t cut : {0u, 1u, 55u, 63u, 64u, 65u, 127u, 999u, 1000u}) {
    Sha256 first;
    first.Update(data.substr(0, cut));
    std::string state = first.SaveState();
    std::optional<Sha256> resumed = Sha256::Restore(state);
    ASSERT_TRUE(resumed) << state;
    EXPECT_EQ(resumed->bytes(), cut);
    resumed->Update(data.substr(cut));
    EXPECT_EQ(resumed->Finish().str(), Sha256Of(data).str()) << "cut at " << cut;
  }
}

TEST(DigestTest, RestoreRefusesWhatSaveStateCannotWrite) {
  Sha256 h;
  h.Update("abc");
  std::string good = h.SaveState();
  ASSERT_TRUE(Sha256::Restore(good));
  EXPECT_FALSE(Sha256::Restore(""));
  EXPECT_FALSE(Sha256::Restore("sha256-v1:"));
  EXPECT_FALSE(Sha256::Restore(good.substr(0, good.size() - 1)));
  EXPECT_FALSE(Sha256::Restore(good + "0"));
  std::string upper = good;
  upper.back() = 'G';
  EXPECT_FALSE(Sha256::Restore(upper));
  // A byte count that disagrees with the bit count inside, and a block offset past the block:
  std::string wrong_count = good;
  wrong_count.replace(wrong_count.find(':'), 2, ":4");
  EXPECT_FALSE(Sha256::Restore(wrong_count));
  std::string past_block = good;
  size_t num = past_block.size() - 18;  // the second-to-last word: the offset in the block
  past_block.replace(num + 1, 8, "00000040");
  EXPECT_FALSE(Sha256::Restore(past_block));
}

}  // namespace kura::core
