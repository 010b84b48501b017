#include "store/fs_blob_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "test_paths.h"

namespace kura::store {
namespace {

class FsBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = kura::testing::ScratchPath("blobs");
    std::filesystem::remove_all(dir_);
    store_ = std::make_unique<FsBlobStore>(dir_.string());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& id, uint64_t offset, const std::string& data) {
    FileHandle f = store_->OpenUpload(id, offset);
    ASSERT_TRUE(f.valid());
    ASSERT_EQ(::write(f.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }

  std::filesystem::path dir_;
  std::unique_ptr<FsBlobStore> store_;
};

TEST_F(FsBlobStoreTest, CommitMakesTheBlobVisible) {
  Write("u1", 0, "hello ");
  Write("u1", 6, "world");
  core::Digest d = core::Sha256Of("hello world");
  EXPECT_FALSE(store_->Open(d));
  ASSERT_TRUE(store_->CommitUpload("u1", d));
  auto blob = store_->Open(d);
  ASSERT_TRUE(blob);
  EXPECT_EQ(blob->size, 11u);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "uploads" / "u1"));
}

TEST_F(FsBlobStoreTest, OpenUploadTruncatesToTheKeptOffset) {
  Write("u1", 0, "abcdef");
  Write("u1", 3, "X");  // a chunk after a failed one starts again at the kept offset
  ASSERT_TRUE(store_->CommitUpload("u1", core::Sha256Of("abcX")));
  EXPECT_EQ(store_->Open(core::Sha256Of("abcX"))->size, 4u);
}

TEST_F(FsBlobStoreTest, CommittingKnownContentKeepsOneCopy) {
  Write("u1", 0, "same");
  Write("u2", 0, "same");
  core::Digest d = core::Sha256Of("same");
  ASSERT_TRUE(store_->CommitUpload("u1", d));
  ASSERT_TRUE(store_->CommitUpload("u2", d));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "uploads" / "u2"));
}

TEST_F(FsBlobStoreTest, RemovesOnlyStaleUploads) {
  Write("live", 0, "x");
  Write("stale", 0, "y");
  int removed = store_->RemoveStaleUploads([](const std::string& id) { return id == "live"; });
  EXPECT_EQ(removed, 1);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "uploads" / "live"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "uploads" / "stale"));
}

}  // namespace
}  // namespace kura::store
