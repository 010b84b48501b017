// The part size an S3 upload records in its state (s3_blob_store.cc, UploadState), against the
// gateway named by KURA_TEST_S3: an upload is cut in kPartBytes parts and says so; one begun by
// an older kura (its state the multipart id alone, parts of kLegacyPartBytes) goes on and commits
// in its own parts; a state that is neither is refused, and nothing is written for it.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/digest.h"
#include "store/blob_store_backends.h"
#include "store/blob_test_bytes.h"
#include "store/meta_store.h"

namespace kura::store {
namespace {

class S3UploadStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_.SetUp();
    if (IsSkipped()) return;
    store_ = static_cast<S3BlobStore*>(&backend_.store());
  }
  void TearDown() override { backend_.TearDown(); }

  static std::string Bytes(size_t n, uint32_t seed) { return kura::testing::TestBytes(n, seed); }

  std::string Append(const std::string& id, uint64_t offset, const std::string& state,
                     std::string_view data) {
    return kura::testing::AppendAll(*store_, id, offset, state, data);
  }

  std::string Read(const core::Digest& digest) { return kura::testing::ReadBlob(*store_, digest); }

  // Keys of the store's objects under `prefix`.
  std::vector<std::string> Keys(const std::string& prefix) {
    std::vector<std::string> keys;
    std::string token;
    do {
      S3ObjectPage page = store_->client().ListObjects(prefix, token);
      for (const S3Object& o : page.objects) keys.push_back(o.key);
      token = page.next_continuation_token;
    } while (!token.empty());
    return keys;
  }

  S3Backend backend_;
  S3BlobStore* store_ = nullptr;
};

TEST_F(S3UploadStateTest, AnUploadRecordsItsPartSize) {
  const std::string data = Bytes(S3BlobStore::kPartBytes + 100, 1);
  // A tail alone needs no multipart upload: nothing to record.
  EXPECT_EQ(Append("u1", 0, "", std::string_view(data).substr(0, 1000)), "");
  std::string state = Append("u1", 1000, "", std::string_view(data).substr(1000));
  const std::string field = "part-bytes=" + std::to_string(S3BlobStore::kPartBytes) + " ";
  ASSERT_EQ(state.substr(0, field.size()), field) << state;
  EXPECT_GT(state.size(), field.size());
  EXPECT_TRUE(store_->HoldsUpload("u1", data.size(), state));
  // One part of kPartBytes, then the tail.
  auto parts = store_->client().ListParts("uploads/u1/data", state.substr(field.size()));
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].size, S3BlobStore::kPartBytes);
  core::Digest d = core::Sha256Of(data);
  store_->Commit("u1", data.size(), state, d);
  EXPECT_TRUE(Read(d) == data);
  EXPECT_TRUE(Keys("uploads/u1/").empty());
}

// What kura wrote before it recorded the part size: parts of 8 MiB, the state the multipart
// upload's id. The upload goes on in 8 MiB parts, whatever kPartBytes is now.
TEST_F(S3UploadStateTest, AnUploadBegunInLegacyPartsGoesOnInThem) {
  const uint64_t legacy = S3BlobStore::kLegacyPartBytes;
  const std::string data = Bytes(2 * legacy + legacy / 2 + 7, 2);
  S3Client& client = store_->client();
  std::string multipart = client.CreateMultipartUpload("uploads/old/data");
  client.PutObject("uploads/old/multipart", multipart);
  client.UploadPart("uploads/old/data", multipart, 1, std::string_view(data).substr(0, legacy));
  ASSERT_TRUE(store_->HoldsUpload("old", legacy, multipart));

  std::string state = Append("old", legacy, multipart, std::string_view(data).substr(legacy));
  EXPECT_EQ(state, "part-bytes=" + std::to_string(legacy) + " " + multipart);
  EXPECT_TRUE(store_->HoldsUpload("old", data.size(), state));
  auto parts = client.ListParts("uploads/old/data", multipart);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[1].size, legacy);
  core::Digest d = core::Sha256Of(data);
  store_->Commit("old", data.size(), state, d);
  EXPECT_TRUE(Read(d) == data);
  EXPECT_TRUE(Keys("uploads/old/").empty());
}

TEST_F(S3UploadStateTest, AStateOfNoS3UploadIsRefusedAndWritesNothing) {
  const std::string tail = Bytes(1000, 3);
  const std::string big = std::to_string(S3BlobStore::kMaxPartBytes + 1);
  for (std::string state :
       {"part-bytes=", "part-bytes=16777216", "part-bytes=16777216 ", "part-bytes=banana id",
        "part-bytes=1024 id", "part-bytes=-1 id", "part-bytes=16777216x id"}) {
    SCOPED_TRACE(state);
    EXPECT_THROW(store_->Append("bad", 5000, state), StoreError);
    EXPECT_THROW(store_->Commit("bad", 5000, state, core::Sha256Of(tail)), StoreError);
    EXPECT_FALSE(store_->HoldsUpload("bad", 5000, state));
  }
  EXPECT_THROW(store_->Append("bad", 0, "part-bytes=" + big + " id"), StoreError);
  EXPECT_TRUE(Keys("uploads/bad/").empty());
  EXPECT_TRUE(Keys("blobs/").empty());
  // Removing an upload of such a state finds its multipart upload by the upload's own record.
  std::string tail_state = Append("bad", 0, "", tail);
  std::string more = Bytes(S3BlobStore::kPartBytes, 4);
  std::string good = Append("bad", tail.size(), tail_state, more);
  ASSERT_FALSE(Keys("uploads/bad/").empty());
  store_->RemoveUpload("bad", "part-bytes=banana id");
  EXPECT_TRUE(Keys("uploads/bad/").empty());
  EXPECT_THROW(store_->client().ListParts("uploads/bad/data", good.substr(good.find(' ') + 1)),
               S3Error);
}

}  // namespace
}  // namespace kura::store
