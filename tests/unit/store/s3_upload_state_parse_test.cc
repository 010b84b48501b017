// ParseS3UploadState and EncodeS3UploadState (store/s3_upload_state.h), without a gateway: the
// three forms, and every malformed size refused.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/s3_upload_state.h"

namespace kura::store {
namespace {

TEST(S3UploadStateParseTest, NoStateIsATailOfTodaysParts) {
  std::optional<S3UploadState> s = ParseS3UploadState("");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->part_bytes, S3BlobStore::kPartBytes);
  EXPECT_EQ(s->multipart, "");
  EXPECT_EQ(EncodeS3UploadState(*s), "");
}

TEST(S3UploadStateParseTest, ABareIdIsALegacyUploadOf8MiBParts) {
  std::optional<S3UploadState> s = ParseS3UploadState("2~AbC-def_123");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->part_bytes, S3BlobStore::kLegacyPartBytes);
  EXPECT_EQ(s->part_bytes, uint64_t{8} << 20);
  EXPECT_EQ(s->multipart, "2~AbC-def_123");
  // Written back, it says its size.
  EXPECT_EQ(EncodeS3UploadState(*s), "part-bytes=8388608 2~AbC-def_123");
}

TEST(S3UploadStateParseTest, TheRecordedSizeIsKept) {
  std::optional<S3UploadState> s = ParseS3UploadState("part-bytes=16777216 2~x");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->part_bytes, uint64_t{16} << 20);
  EXPECT_EQ(s->multipart, "2~x");
  for (uint64_t size : {S3BlobStore::kMinPartBytes, S3BlobStore::kMaxPartBytes}) {
    S3UploadState state{size, "id"};
    EXPECT_EQ(ParseS3UploadState(EncodeS3UploadState(state)), state) << size;
  }
}

TEST(S3UploadStateParseTest, AMalformedSizeIsRefused) {
  const std::string over = std::to_string(S3BlobStore::kMaxPartBytes + 1);
  const std::string under = std::to_string(S3BlobStore::kMinPartBytes - 1);
  for (const std::string& text : std::vector<std::string>{
           "part-bytes=", "part-bytes=16777216", "part-bytes=16777216 ", "part-bytes= id",
           "part-bytes=banana id", "part-bytes=-1 id", "part-bytes=+16777216 id",
           "part-bytes=16777216x id", "part-bytes=0x1000000 id", "part-bytes=0 id",
           "part-bytes=" + over + " id", "part-bytes=" + under + " id",
           "part-bytes=99999999999999999999999 id"}) {
    EXPECT_EQ(ParseS3UploadState(text), std::nullopt) << text;
  }
}

}  // namespace
}  // namespace kura::store
