// FsBlobStore's pull path: reads past the page cache, what is in the cache, and the warm-up of a
// blob just committed (fs_blob_store.cc).
#include "store/fs_blob_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

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
  // Pushes `data` as one upload (written as uploads are, with O_DIRECT where it can) and commits.
  core::Digest Put(const std::string& data) {
    std::string id = "u" + std::to_string(++next_);
    auto app = store_->Append(id, 0, {});
    for (size_t at = 0; at < data.size();) {
      auto buf = app->NextBuffer();
      size_t n = std::min(buf.size(), data.size() - at);
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

struct Aligned {
  explicit Aligned(size_t n)
      : p(static_cast<char*>(std::aligned_alloc(BlobReader::kDirectAlignment, n))) {}
  ~Aligned() { std::free(p); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
  char* p;
};

TEST_F(FsBlobStoreTest, ReadsPastTheCacheReturnTheBytesOfTheBlob) {
  store_->set_warm_up(false);
  std::string data = Bytes((5 << 20) + 123);  // not a multiple of the alignment
  auto blob = store_->Open(Put(data));
  ASSERT_TRUE(blob);
  constexpr size_t kChunk = 1 << 20;
  Aligned buf(kChunk);
  std::string back;
  for (uint64_t at = 0;; at += kChunk) {
    size_t n = blob->ReadUncachedAt(at, buf.p, kChunk);
    back.append(buf.p, n);
    if (n < kChunk) break;
  }
  EXPECT_EQ(back.size(), data.size());
  EXPECT_TRUE(back == data);
  EXPECT_EQ(blob->ReadUncachedAt(6 << 20, buf.p, kChunk), 0u);  // past the end
}

TEST_F(FsBlobStoreTest, ABlobDroppedFromTheCacheIsNotResidentAndAWarmedOneIs) {
  store_->set_warm_up(false);
  std::string data = Bytes(3 << 20);
  core::Digest d = Put(data);
  std::string path = store_->BlobPath(d);
  {
    int fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
  auto blob = store_->Open(d);
  ASSERT_TRUE(blob);
  if (blob->Resident(0, data.size())) {
    GTEST_SKIP() << "no cachestat(2), or a file system that keeps every page (tmpfs)";
  }
  std::string all(data.size(), '\0');
  ASSERT_EQ(blob->ReadAt(0, all.data(), all.size()), all.size());  // a buffered read fills it
  EXPECT_TRUE(blob->Resident(0, data.size()));
  EXPECT_TRUE(blob->Resident(4096, 10));

  // A new blob with the warm-up on is in the cache once the warm-up has run.
  store_->set_warm_up(true);
  std::string other = Bytes((3 << 20) + 1);
  core::Digest d2 = Put(other);
  FsBlobStore::WaitForWarmUps();
  auto warmed = store_->Open(d2);
  ASSERT_TRUE(warmed);
  EXPECT_TRUE(warmed->Resident(0, other.size()));
}

}  // namespace
}  // namespace kura::store
