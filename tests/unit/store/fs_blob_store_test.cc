// FsBlobStore's upload writes and what a pull finds of them: the bytes in order whatever the
// buffers' fill, and a blob just committed still in the page cache (fs_blob_store.cc,
// upload_writer.h).
#include "store/fs_blob_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/digest.h"
#include "test_paths.h"

namespace kura::store {
namespace {

class FsBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = kura::testing::ScratchPath("fsblobs");
    std::filesystem::remove_all(dir_);
    store_ = std::make_unique<FsBlobStore>(dir_.string());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string Bytes(size_t n) {
    std::mt19937_64 rng(n);
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  }
  // Pushes `data` as one upload and commits it. With `piece`, each buffer gets at most that many
  // bytes (a client whose body arrives in odd pieces).
  core::Digest Put(const std::string& data, size_t piece = SIZE_MAX) {
    std::string id = "u" + std::to_string(++next_);
    auto app = store_->Append(id, 0, {});
    for (size_t at = 0; at < data.size();) {
      auto buf = app->NextBuffer();
      size_t n = std::min({buf.size(), piece, data.size() - at});
      std::copy_n(data.data() + at, n, buf.data());
      app->Submit(n);
      at += n;
    }
    app->Finish();
    core::Digest d = core::Sha256Of(data);
    store_->Commit(id, data.size(), {}, d);
    return d;
  }

  std::filesystem::path dir_;
  std::unique_ptr<FsBlobStore> store_;
  int next_ = 0;
};

TEST_F(FsBlobStoreTest, BuffersFilledPartlyAnywhereKeepTheBytesInOrder) {
  std::string data = Bytes((9 << 20) + 7);
  for (size_t piece : {size_t{1} << 20, size_t{4095}, size_t{(1 << 20) - 1}, size_t{333333}}) {
    core::Digest d = Put(data, piece);
    auto blob = store_->Open(d);
    ASSERT_TRUE(blob) << piece;
    ASSERT_EQ(blob->size(), data.size());
    std::string back(data.size(), '\0');
    ASSERT_EQ(blob->ReadAt(0, back.data(), back.size()), back.size());
    EXPECT_TRUE(back == data) << "pieces of " << piece;
    store_->Remove(d);
  }
}

// What a CI job does: push a layer, pull it at once. The pull must find the blob in the page
// cache, as distribution's buffered writes leave it, not read it back from the disk.
TEST_F(FsBlobStoreTest, ABlobJustCommittedIsInThePageCache) {
  std::string data = Bytes((6 << 20) + 123);
  core::Digest d = Put(data);
  int fd = ::open(store_->BlobPath(d).c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  void* map = ::mmap(nullptr, data.size(), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  ASSERT_NE(map, MAP_FAILED);
  const size_t pages = (data.size() + 4095) / 4096;
  std::vector<unsigned char> resident(pages);
  ASSERT_EQ(::mincore(map, data.size(), resident.data()), 0);
  ::munmap(map, data.size());
  size_t in_cache = 0;
  for (unsigned char r : resident) in_cache += r & 1;
  EXPECT_EQ(in_cache, pages);
  auto blob = store_->Open(d);
  ASSERT_TRUE(blob);
  std::string back(data.size(), '\0');
  ASSERT_EQ(blob->ReadAt(0, back.data(), back.size()), back.size());
  EXPECT_TRUE(back == data);
}

}  // namespace
}  // namespace kura::store
