// S3BlobStore::PutBlobFromFile (kura migrate's copy of a blob file), against the gateway named by
// KURA_TEST_S3: a file is stored only when its bytes hash to the digest, whole, in one PUT or
// through an upload (copied to its key in parts over the single-copy limit), and leaves no upload
// behind either way.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "core/digest.h"
#include "store/blob_store_backends.h"
#include "store/blob_test_bytes.h"
#include "store/meta_store.h"

namespace kura::store {
namespace {

template <class Backend>
class PutBlobFromFileFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_.SetUp();
    if (IsSkipped()) return;
    store_ = static_cast<S3BlobStore*>(&backend_.store());
    // Not ScratchPath: a parameterized test's name holds a '/'.
    path_ = std::filesystem::temp_directory_path() /
            ("kura-put-blob-file-" + std::to_string(::getpid()) + "-" +
             std::to_string(std::random_device{}()));
  }
  void TearDown() override {
    backend_.TearDown();
    std::filesystem::remove(path_);
  }

  static std::string Bytes(size_t n, uint32_t seed) { return kura::testing::TestBytes(n, seed); }

  // Writes `bytes` to the scratch file and opens it.
  FileHandle File(const std::string& bytes) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;
    return FileHandle(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  }

  std::string Read(const core::Digest& digest) { return kura::testing::ReadBlob(*store_, digest); }

  Backend backend_;
  S3BlobStore* store_ = nullptr;
  std::filesystem::path path_;
};

using PutBlobFromFileTest = PutBlobFromFileFixture<S3Backend>;
// With a single-copy limit of 5 MiB: the upload is copied to the blob's key in parts.
using PutBlobFromFileInPartsTest = PutBlobFromFileFixture<S3CopyInPartsBackend>;

// Sizes on each side of the one-PUT limit, and over several parts.
class PutBlobFromFileSizes : public PutBlobFromFileTest,
                             public ::testing::WithParamInterface<uint64_t> {};

TEST_P(PutBlobFromFileSizes, StoresAFileThatHashesToItsDigest) {
  const std::string bytes = Bytes(GetParam(), 7);
  const core::Digest digest = core::Sha256Of(bytes);
  FileHandle f = File(bytes);
  uint64_t last_progress = 0;
  EXPECT_EQ(store_->PutBlobFromFile(digest, f.get(), bytes.size(),
                                    [&](uint64_t read) { last_progress = read; }),
            digest);
  EXPECT_EQ(store_->Stat(digest), bytes.size());
  EXPECT_TRUE(Read(digest) == bytes);
  if (bytes.size() > S3BlobStore::kPartBytes) {
    EXPECT_EQ(last_progress, bytes.size());
  }
  EXPECT_TRUE(store_->ListUploads(0).empty());
}

TEST_P(PutBlobFromFileSizes, StoresNothingOfAFileThatDoesNotHashToItsDigest) {
  if (GetParam() == 0) GTEST_SKIP() << "no byte of an empty file can be changed";
  std::string bytes = Bytes(GetParam(), 8);
  const core::Digest digest = core::Sha256Of(bytes);
  bytes[bytes.size() / 2] ^= 0x20;
  FileHandle f = File(bytes);
  EXPECT_EQ(store_->PutBlobFromFile(digest, f.get(), bytes.size()), core::Sha256Of(bytes));
  EXPECT_EQ(store_->Stat(digest), std::nullopt);
  EXPECT_EQ(store_->Stat(core::Sha256Of(bytes)), std::nullopt);
  EXPECT_TRUE(store_->ListUploads(0).empty());
}

TEST_P(PutBlobFromFileSizes, ReplacesADamagedCopyOfAnotherSize) {
  const std::string bytes = Bytes(GetParam(), 9);
  const core::Digest digest = core::Sha256Of(bytes);
  store_->client().PutObject(S3BlobStore::BlobKey(digest), "a few bytes");
  FileHandle f = File(bytes);
  EXPECT_EQ(store_->PutBlobFromFile(digest, f.get(), bytes.size()), digest);
  EXPECT_EQ(store_->Stat(digest), bytes.size());
  EXPECT_TRUE(Read(digest) == bytes);
}

INSTANTIATE_TEST_SUITE_P(Sizes, PutBlobFromFileSizes,
                         ::testing::Values(0, 1000, S3BlobStore::kPartBytes,
                                           S3BlobStore::kPartBytes + 1,
                                           2 * S3BlobStore::kPartBytes + 12345));

TEST_F(PutBlobFromFileTest, AFileShorterThanSaidIsUnreadableAndStoresNothing) {
  for (uint64_t size : {uint64_t{5000}, 3 * S3BlobStore::kPartBytes}) {
    const std::string bytes = Bytes(size, 10);
    const core::Digest digest = core::Sha256Of(bytes);
    FileHandle f = File(bytes.substr(0, bytes.size() - 1));
    EXPECT_THROW(store_->PutBlobFromFile(digest, f.get(), bytes.size()), BlobFileUnreadable);
    EXPECT_EQ(store_->Stat(digest), std::nullopt);
    EXPECT_TRUE(store_->ListUploads(0).empty());
  }
}

TEST_F(PutBlobFromFileTest, AFileLongerThanSaidIsUnreadableAndStoresNothing) {
  const std::string bytes = Bytes(5000, 11);
  const core::Digest digest = core::Sha256Of(bytes);
  FileHandle f = File(bytes + "more");
  EXPECT_THROW(store_->PutBlobFromFile(digest, f.get(), bytes.size()), BlobFileUnreadable);
  EXPECT_EQ(store_->Stat(digest), std::nullopt);
}

TEST_F(PutBlobFromFileInPartsTest, StoresAFileOverTheCopyLimitWhole) {
  const std::string bytes = Bytes(2 * S3BlobStore::kPartBytes + 777, 12);
  const core::Digest digest = core::Sha256Of(bytes);
  FileHandle f = File(bytes);
  EXPECT_EQ(store_->PutBlobFromFile(digest, f.get(), bytes.size()), digest);
  EXPECT_EQ(store_->Stat(digest), bytes.size());
  EXPECT_TRUE(Read(digest) == bytes);
  // Assembled from copied parts of 5 MiB (the fixture's), not one CopyObject.
  const uint64_t parts =
      (bytes.size() + S3BlobStore::kMinPartBytes - 1) / S3BlobStore::kMinPartBytes;
  EXPECT_TRUE(store_->client()
                  .HeadObject(S3BlobStore::BlobKey(digest))
                  ->etag.ends_with("-" + std::to_string(parts)));
  EXPECT_TRUE(store_->ListUploads(0).empty());
}

TEST_F(PutBlobFromFileTest, AFileOverTheLargestBlobIsRefusedUnread) {
  const core::Digest digest = core::Sha256Of("x");
  FileHandle f = File("x");
  EXPECT_THROW(store_->PutBlobFromFile(digest, f.get(), S3BlobStore::kMaxBlobBytes + 1),
               StoreError);
  EXPECT_EQ(store_->Stat(digest), std::nullopt);
  EXPECT_TRUE(store_->ListUploads(0).empty());
}

}  // namespace
}  // namespace kura::store
