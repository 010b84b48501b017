// What a committed filesystem blob needs to survive a power cut, checked on the system calls
// FsBlobStore::Commit makes before it returns: the upload file's data synced before the rename
// (else the new name may point at a file whose bytes never reached the disk), the rename, then
// the directory that received it synced (else the rename itself may be lost), and a directory
// Commit had to create made durable in its parent too.
//
// This test binary defines fsync, fdatasync and rename itself: calls from kura's code (linked
// into it statically) reach these, which record them while a test asks, then call libc's.
#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "core/digest.h"
#include "store/fs_blob_store.h"
#include "store/meta_store.h"
#include "test_paths.h"

namespace {

std::mutex calls_mu;
bool recording = false;
std::vector<std::string> calls;  // "fsync <path>", "rename <from> <to>"

std::string PathOf(int fd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  std::error_code ec;
  std::filesystem::path p = std::filesystem::read_symlink(link, ec);
  return ec ? "fd " + std::to_string(fd) : p.string();
}

void Record(const std::string& call) {
  std::lock_guard lock(calls_mu);
  if (recording) calls.push_back(call);
}

template <typename F>
F Next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" int fsync(int fd) {
  static auto real = Next<int (*)(int)>("fsync");
  int rc = real(fd);
  if (rc == 0) Record("fsync " + PathOf(fd));
  return rc;
}

extern "C" int fdatasync(int fd) {
  static auto real = Next<int (*)(int)>("fdatasync");
  int rc = real(fd);
  if (rc == 0) Record("fsync " + PathOf(fd));
  return rc;
}

extern "C" int rename(const char* from, const char* to) {
  static auto real = Next<int (*)(const char*, const char*)>("rename");
  int rc = real(from, to);
  if (rc == 0) Record("rename " + std::string(from) + " " + std::string(to));
  return rc;
}

namespace kura::store {
namespace {

class FsBlobDurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::weakly_canonical(kura::testing::ScratchPath("fs-durability"));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    Stop();
    std::filesystem::remove_all(dir_);
  }
  static void Start() {
    std::lock_guard lock(calls_mu);
    calls.clear();
    recording = true;
  }
  static std::vector<std::string> Stop() {
    std::lock_guard lock(calls_mu);
    recording = false;
    return calls;
  }
  // Uploads `bytes` and commits them as a blob, recording the calls of the commit only.
  std::vector<std::string> Commit(FsBlobStore& store, const std::string& id,
                                  const std::string& bytes) {
    auto append = store.Append(id, 0, "");
    size_t at = 0;
    while (at < bytes.size()) {
      std::span<char> buf = append->NextBuffer();
      size_t n = std::min(buf.size(), bytes.size() - at);
      std::copy_n(bytes.data() + at, n, buf.data());
      append->Submit(n);
      at += n;
    }
    append->Finish();
    Start();
    store.Commit(id, bytes.size(), "", core::Sha256Of(bytes));
    return Stop();
  }
  static ptrdiff_t IndexOf(const std::vector<std::string>& v, const std::string& call) {
    auto it = std::find(v.begin(), v.end(), call);
    return it == v.end() ? -1 : it - v.begin();
  }
  static std::string Show(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& c : v) s += "\n  " + c;
    return s;
  }

  std::filesystem::path dir_;
};

TEST_F(FsBlobDurabilityTest, DataSyncedThenRenamedThenDirectorySynced) {
  FsBlobStore store(dir_.string());
  std::string bytes(300 * 1024, 'x');
  std::string blob = store.BlobPath(core::Sha256Of(bytes));
  std::string upload = store.UploadPath("upload-1");
  std::string blob_dir = std::filesystem::path(blob).parent_path().string();
  std::string shard_parent = std::filesystem::path(blob_dir).parent_path().string();
  ASSERT_FALSE(std::filesystem::exists(blob_dir)) << "the first blob of its shard";

  std::vector<std::string> seen = Commit(store, "upload-1", bytes);
  ptrdiff_t data = IndexOf(seen, "fsync " + upload);
  ptrdiff_t moved = IndexOf(seen, "rename " + upload + " " + blob);
  ptrdiff_t dir = IndexOf(seen, "fsync " + blob_dir);
  ptrdiff_t parent = IndexOf(seen, "fsync " + shard_parent);
  ASSERT_GE(data, 0) << "the upload's bytes are never synced:" << Show(seen);
  ASSERT_GE(moved, 0) << "no rename into place:" << Show(seen);
  ASSERT_GE(dir, 0) << "the directory holding the new name is never synced:" << Show(seen);
  EXPECT_LT(data, moved) << "the rename may reach the disk before the bytes:" << Show(seen);
  EXPECT_LT(moved, dir) << "the directory is synced before the rename:" << Show(seen);
  EXPECT_GE(parent, 0) << "the new shard directory " << blob_dir
                       << " is never made durable in its parent:" << Show(seen);
  EXPECT_TRUE(std::filesystem::exists(blob));
}

TEST_F(FsBlobDurabilityTest, ASecondBlobOfTheShardSyncsItsDirectoryOnly) {
  FsBlobStore store(dir_.string());
  // Two blobs whose digests share the first two hex digits: the second finds its shard there.
  std::string first, second;
  for (int i = 0; second.empty(); ++i) {
    std::string candidate = "blob " + std::to_string(i);
    if (first.empty()) {
      first = candidate;
    } else if (core::Sha256Of(candidate).str().substr(7, 2) ==
               core::Sha256Of(first).str().substr(7, 2)) {
      second = candidate;
    }
  }
  Commit(store, "upload-1", first);
  std::vector<std::string> seen = Commit(store, "upload-2", second);
  std::string blob = store.BlobPath(core::Sha256Of(second));
  std::string blob_dir = std::filesystem::path(blob).parent_path().string();
  ptrdiff_t moved = IndexOf(seen, "rename " + store.UploadPath("upload-2") + " " + blob);
  ptrdiff_t dir = IndexOf(seen, "fsync " + blob_dir);
  ASSERT_GE(moved, 0) << Show(seen);
  EXPECT_GT(dir, moved) << Show(seen);
}

TEST_F(FsBlobDurabilityTest, ABlobStoredAlreadyIsNotWrittenAgain) {
  FsBlobStore store(dir_.string());
  Commit(store, "upload-1", "same bytes");
  std::vector<std::string> seen = Commit(store, "upload-2", "same bytes");
  for (const std::string& call : seen) {
    EXPECT_NE(call.rfind("rename ", 0), 0U) << "the stored blob was replaced: " << call;
  }
  EXPECT_FALSE(std::filesystem::exists(store.UploadPath("upload-2")));
}

// A PATCH's bytes are not synced: after a power cut the upload file may hold fewer bytes than
// the session counts. Going on from the recorded offset would fill the gap with zeros the
// session's hash never saw: refused, the client starts the upload again.
TEST_F(FsBlobDurabilityTest, AnUploadFileShorterThanItsSessionIsNotExtended) {
  FsBlobStore store(dir_.string());
  {
    auto append = store.Append("upload-1", 0, "");
    std::span<char> buf = append->NextBuffer();
    std::fill_n(buf.data(), 100, 'a');
    append->Submit(100);
    append->Finish();
  }
  std::filesystem::resize_file(store.UploadPath("upload-1"), 40);  // what the disk kept
  EXPECT_THROW(store.Append("upload-1", 100, ""), StoreError);
  EXPECT_EQ(std::filesystem::file_size(store.UploadPath("upload-1")), 40U);
  // Bytes beyond the offset (an append that failed half-way) are still cut back.
  auto again = store.Append("upload-1", 30, "");
  again->Finish();
  EXPECT_EQ(std::filesystem::file_size(store.UploadPath("upload-1")), 30U);
}

}  // namespace
}  // namespace kura::store
