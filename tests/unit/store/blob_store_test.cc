// The BlobStore contract (blob_store.h), run on every implementation: the filesystem store, and
// the S3 store against the gateway named by KURA_TEST_S3 (blob_store_backends.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/digest.h"
#include "store/blob_store_backends.h"
#include "store/meta_store.h"

namespace kura::store {
namespace {

template <class Backend>
class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_.SetUp();
    if (::testing::Test::IsSkipped()) return;
    store_ = &backend_.store();
  }
  void TearDown() override { backend_.TearDown(); }

  // Appends `data` to upload `id` in pieces of at most `piece` bytes per buffer (as a request
  // body arrives), returning the new state.
  std::string Append(const std::string& id, uint64_t offset, const std::string& state,
                     const std::string& data, size_t piece = SIZE_MAX) {
    auto appender = store_->Append(id, offset, state);
    size_t done = 0;
    while (done < data.size()) {
      std::span<char> buf = appender->NextBuffer();
      size_t n = std::min({buf.size(), data.size() - done, piece});
      std::copy_n(data.data() + done, n, buf.data());
      appender->Submit(n);
      done += n;
    }
    return appender->Finish();
  }

  std::string ReadAll(BlobReader& r) {
    std::string out(r.size(), '\0');
    uint64_t at = 0;
    while (at < out.size()) {
      size_t n = r.ReadAt(at, out.data() + at, out.size() - at);
      if (n == 0) break;
      at += n;
    }
    out.resize(at);
    return out;
  }

  static std::string Bytes(size_t n, char seed) {
    std::string s(n, '\0');
    uint32_t x = static_cast<unsigned char>(seed) * 2654435761u + 1;
    for (char& c : s) {
      x = x * 1103515245u + 12345u;
      c = static_cast<char>(x >> 24);
    }
    return s;
  }

  std::string NewId() { return backend_.NewUploadId(); }

  Backend backend_;
  BlobStore* store_ = nullptr;
};

using Backends = ::testing::Types<FsBackend, S3Backend, S3CopyInPartsBackend>;
TYPED_TEST_SUITE(BlobStoreTest, Backends);

TYPED_TEST(BlobStoreTest, CommitMakesTheBlobVisible) {
  std::string id = this->NewId();
  std::string state = this->Append(id, 0, {}, "hello ");
  state = this->Append(id, 6, state, "world");
  core::Digest d = core::Sha256Of("hello world");
  EXPECT_FALSE(this->store_->Open(d));
  EXPECT_FALSE(this->store_->Stat(d));
  this->store_->Commit(id, 11, state, d);
  auto blob = this->store_->Open(d);
  ASSERT_TRUE(blob);
  EXPECT_EQ(blob->size(), 11u);
  EXPECT_EQ(this->ReadAll(*blob), "hello world");
  EXPECT_EQ(this->store_->Stat(d), 11u);
  for (const std::string& left : this->store_->ListUploads(0)) EXPECT_NE(left, id);
}

TYPED_TEST(BlobStoreTest, RangedReadsReturnTheBytesAskedFor) {
  std::string data = this->Bytes(3 * 1024 * 1024 + 17, 'r');
  std::string id = this->NewId();
  core::Digest d = core::Sha256Of(data);
  this->store_->Commit(id, data.size(), this->Append(id, 0, {}, data), d);
  auto blob = this->store_->Open(d);
  ASSERT_TRUE(blob);
  char buf[100];
  ASSERT_EQ(blob->ReadAt(0, buf, 1), 1u);
  EXPECT_EQ(buf[0], data[0]);
  size_t n = blob->ReadAt(1234567, buf, sizeof buf);
  ASSERT_EQ(n, sizeof buf);
  EXPECT_EQ(std::string(buf, n), data.substr(1234567, n));
  n = blob->ReadAt(data.size() - 5, buf, sizeof buf);  // only 5 are left
  EXPECT_EQ(std::string(buf, n), data.substr(data.size() - 5));
  EXPECT_EQ(blob->ReadAt(data.size(), buf, sizeof buf), 0u);
  EXPECT_EQ(blob->ReadAt(data.size() + 10, buf, sizeof buf), 0u);
}

// A pull: told what it will read, the reader streams it (an object store with one GET, from a
// thread of its own) and lends the bytes where it can; each lent view holds the blob's bytes
// until the next call. A read out of sequence after that still returns the right bytes.
TYPED_TEST(BlobStoreTest, APullReadsAheadLendsTheBytesAndThenReadsAtRandom) {
  const std::string data = this->Bytes(13 * 1024 * 1024 + 5, 'p');
  std::string id = this->NewId();
  core::Digest d = core::Sha256Of(data);
  this->store_->Commit(id, data.size(), this->Append(id, 0, {}, data), d);
  auto blob = this->store_->Open(d);
  ASSERT_TRUE(blob);
  const uint64_t from = 1000;
  blob->WillRead(from, data.size() - from);
  std::string back;
  std::vector<char> buf(3 << 20);
  for (uint64_t at = from; at < data.size();) {
    size_t want = std::min<size_t>(buf.size(), data.size() - at);
    std::optional<std::string_view> lent = blob->Lend(at, want);
    std::string_view got =
        lent ? *lent : std::string_view(buf.data(), blob->ReadAt(at, buf.data(), want));
    ASSERT_FALSE(got.empty()) << "at " << at;
    ASSERT_LE(got.size(), want);
    back.append(got);
    at += got.size();
  }
  EXPECT_TRUE(back == data.substr(from)) << back.size();
  EXPECT_EQ(blob->ReadAt(data.size(), buf.data(), 10), 0u);
  // Backwards, then far ahead: no longer the stream.
  char small[64];
  ASSERT_EQ(blob->ReadAt(7, small, sizeof small), sizeof small);
  EXPECT_EQ(std::string(small, sizeof small), data.substr(7, sizeof small));
  ASSERT_EQ(blob->ReadAt(12 << 20, small, sizeof small), sizeof small);
  EXPECT_EQ(std::string(small, sizeof small), data.substr(12 << 20, sizeof small));
}

// A client that goes away mid-pull: the reader is dropped with most of the stream unread, and
// nothing waits for it (the receiving thread is stopped).
TYPED_TEST(BlobStoreTest, APullAbandonedHalfWayEndsAtOnce) {
  const std::string data = this->Bytes(24 * 1024 * 1024, 'a');
  std::string id = this->NewId();
  core::Digest d = core::Sha256Of(data);
  this->store_->Commit(id, data.size(), this->Append(id, 0, {}, data), d);
  for (int i = 0; i < 3; ++i) {
    auto blob = this->store_->Open(d);
    ASSERT_TRUE(blob);
    blob->WillRead(0, data.size());
    char b[4096];
    ASSERT_EQ(blob->ReadAt(0, b, sizeof b), sizeof b);
    EXPECT_EQ(std::string(b, sizeof b), data.substr(0, sizeof b));
  }  // destroyed with the stream running
}

// Chunks of every shape: a few bytes, more than a buffer, pieces that leave buffers part-full,
// each append continuing from the state the last one returned.
// Over an S3 upload part (kPartBytes, 16 MiB; the first append leaves a 9 MiB tail, which the
// second reads back) and, on S3CopyInPartsBackend, over its 5 MiB single-copy limit: the blob is
// copied to its key in parts of 5 MiB and a last one of 123 bytes.
TYPED_TEST(BlobStoreTest, ABlobOfManyPartsReadsBackWhole) {
  const std::string data = this->Bytes(20 * 1024 * 1024 + 123, 'L');
  std::string id = this->NewId();
  std::string state = this->Append(id, 0, {}, data.substr(0, 9 * 1024 * 1024));
  state = this->Append(id, 9 * 1024 * 1024, state, data.substr(9 * 1024 * 1024));
  core::Digest d = core::Sha256Of(data);
  this->store_->Commit(id, data.size(), state, d);
  EXPECT_EQ(this->store_->Stat(d), data.size());
  auto r = this->store_->Open(d);
  ASSERT_TRUE(r);
  EXPECT_TRUE(this->ReadAll(*r) == data);
  // Across each copy part's boundary (5 MiB), an upload part's, a random read's window (8 MiB),
  // the last part alone.
  static_assert(S3BlobStore::kPartBytes < 20 << 20);
  for (uint64_t at : {uint64_t{5 << 20} - 7, uint64_t{8 << 20} - 3, uint64_t{15 << 20} - 1,
                      S3BlobStore::kPartBytes - 3, uint64_t{20 << 20}, uint64_t{data.size() - 1}}) {
    auto ranged = this->store_->Open(d);
    ASSERT_TRUE(ranged);
    std::string got(std::min<uint64_t>(4096, data.size() - at), '\0');
    size_t n = 0;
    while (n < got.size()) {
      size_t more = ranged->ReadAt(at + n, got.data() + n, got.size() - n);
      ASSERT_GT(more, 0u) << "at " << at + n;
      n += more;
    }
    EXPECT_TRUE(got == data.substr(at, got.size())) << "at " << at;
  }
}

// Fewer bytes than an upload part (the upload is its tail object alone), more than the 5 MiB
// single-copy limit of S3CopyInPartsBackend.
TYPED_TEST(BlobStoreTest, ABlobOfOnlyATailOverTheCopyLimitReadsBackWhole) {
  const std::string data = this->Bytes(7 * 1024 * 1024 + 5, 'T');
  std::string id = this->NewId();
  std::string state = this->Append(id, 0, {}, data);
  core::Digest d = core::Sha256Of(data);
  this->store_->Commit(id, data.size(), state, d);
  auto r = this->store_->Open(d);
  ASSERT_TRUE(r);
  EXPECT_TRUE(this->ReadAll(*r) == data);
  std::string last(10, '\0');
  EXPECT_EQ(r->ReadAt(data.size() - 10, last.data(), 10), 10u);
  EXPECT_TRUE(last == data.substr(data.size() - 10));
}

// A commit sent again (the answer to the first was lost) finds the blob there and is done.
TYPED_TEST(BlobStoreTest, ACommitSentAgainAfterItWorkedIsDone) {
  const std::string data = this->Bytes(9 * 1024 * 1024, 'A');
  std::string id = this->NewId();
  std::string state = this->Append(id, 0, {}, data);
  core::Digest d = core::Sha256Of(data);
  this->store_->Commit(id, data.size(), state, d);
  this->store_->Commit(id, data.size(), state, d);
  auto r = this->store_->Open(d);
  ASSERT_TRUE(r);
  EXPECT_TRUE(this->ReadAll(*r) == data);
}

TYPED_TEST(BlobStoreTest, ManyAppendsOfOddSizesMakeOneBlob) {
  std::string id = this->NewId();
  std::string all, state;
  const size_t sizes[] = {1, 7, 3 * 1024 * 1024 + 1, 4096, 6 * 1024 * 1024 + 3, 0, 5};
  char seed = 'a';
  for (size_t size : sizes) {
    std::string chunk = this->Bytes(size, seed++);
    state = this->Append(id, all.size(), state, chunk, 300 * 1024 + 1);
    all += chunk;
  }
  core::Digest d = core::Sha256Of(all);
  this->store_->Commit(id, all.size(), state, d);
  auto blob = this->store_->Open(d);
  ASSERT_TRUE(blob);
  EXPECT_EQ(core::Sha256Of(this->ReadAll(*blob)).str(), d.str());
}

TYPED_TEST(BlobStoreTest, AnAbortedAppendLeavesNoTrace) {
  std::string id = this->NewId();
  std::string first = this->Bytes(2 * 1024 * 1024 + 3, 'f');
  std::string state = this->Append(id, 0, {}, first);
  {
    auto appender = this->store_->Append(id, first.size(), state);
    std::span<char> buf = appender->NextBuffer();
    std::fill(buf.begin(), buf.end(), 'X');
    appender->Submit(buf.size());
    appender->Abort();
  }
  std::string second = this->Bytes(1000, 's');
  state = this->Append(id, first.size(), state, second);
  core::Digest d = core::Sha256Of(first + second);
  this->store_->Commit(id, first.size() + second.size(), state, d);
  auto blob = this->store_->Open(d);
  ASSERT_TRUE(blob);
  EXPECT_EQ(this->ReadAll(*blob), first + second);
}

// What a crash mid-append leaves (bytes stored, the new state never recorded) is dropped by the
// next append from the recorded offset and state.
TYPED_TEST(BlobStoreTest, BytesOfAnAppendWhoseStateWasNotRecordedAreDropped) {
  std::string id = this->NewId();
  std::string first = this->Bytes(1024 * 1024, '1');
  std::string state = this->Append(id, 0, {}, first);
  (void)this->Append(id, first.size(), state, this->Bytes(7 * 1024 * 1024, 'x'));  // not recorded
  std::string second = this->Bytes(12345, '2');
  std::string next = this->Append(id, first.size(), state, second);
  core::Digest d = core::Sha256Of(first + second);
  this->store_->Commit(id, first.size() + second.size(), next, d);
  auto blob = this->store_->Open(d);
  ASSERT_TRUE(blob);
  EXPECT_EQ(this->ReadAll(*blob), first + second);
}

TYPED_TEST(BlobStoreTest, HoldsUploadTellsWhetherTheRecordedBytesAreThere) {
  std::string id = this->NewId();
  EXPECT_TRUE(this->store_->HoldsUpload(id, 0, {}));
  EXPECT_FALSE(this->store_->HoldsUpload(id, 1, {}));
  std::string data = this->Bytes(9 * 1024 * 1024 + 5, 'h');  // a whole S3 part and a tail
  std::string state = this->Append(id, 0, {}, data);
  EXPECT_TRUE(this->store_->HoldsUpload(id, data.size(), state));
  EXPECT_FALSE(this->store_->HoldsUpload(id, data.size() + 1, state));
}

TYPED_TEST(BlobStoreTest, AnEmptyBlobCanBeCommitted) {
  std::string id = this->NewId();
  core::Digest d = core::Sha256Of("");
  this->store_->Commit(id, 0, {}, d);
  auto blob = this->store_->Open(d);
  ASSERT_TRUE(blob);
  EXPECT_EQ(blob->size(), 0u);
  char c;
  EXPECT_EQ(blob->ReadAt(0, &c, 1), 0u);
}

TYPED_TEST(BlobStoreTest, CommittingKnownContentKeepsOneCopyAndEndsTheUpload) {
  std::string a = this->NewId(), b = this->NewId();
  core::Digest d = core::Sha256Of("same");
  this->store_->Commit(a, 4, this->Append(a, 0, {}, "same"), d);
  this->store_->Commit(b, 4, this->Append(b, 0, {}, "same"), d);
  for (const std::string& left : this->store_->ListUploads(0)) {
    EXPECT_NE(left, a);
    EXPECT_NE(left, b);
  }
  EXPECT_EQ(this->ReadAll(*this->store_->Open(d)), "same");
}

TYPED_TEST(BlobStoreTest, ACommitOfTheWrongSizeStoresNothing) {
  std::string id = this->NewId();
  std::string state = this->Append(id, 0, {}, "abc");
  core::Digest d = core::Sha256Of("abcd");
  EXPECT_THROW(this->store_->Commit(id, 4, state, d), StoreError);
  EXPECT_FALSE(this->store_->Open(d));
}

TYPED_TEST(BlobStoreTest, UploadsAreListedUntilRemoved) {
  std::string id = this->NewId();
  std::string state = this->Append(id, 0, {}, "partial");
  auto listed = [&](int64_t idle) {
    for (const std::string& u : this->store_->ListUploads(idle)) {
      if (u == id) return true;
    }
    return false;
  };
  EXPECT_TRUE(listed(0));
  EXPECT_FALSE(listed(3600));  // just written: not idle for an hour
  this->store_->RemoveUpload(id, state);
  EXPECT_FALSE(listed(0));
  this->store_->RemoveUpload(id, state);  // twice is harmless
}

TYPED_TEST(BlobStoreTest, RemoveDeletesTheBlob) {
  std::string id = this->NewId();
  core::Digest d = core::Sha256Of("gone");
  this->store_->Commit(id, 4, this->Append(id, 0, {}, "gone"), d);
  ASSERT_TRUE(this->store_->Stat(d));
  this->store_->Remove(d);
  EXPECT_FALSE(this->store_->Stat(d));
  EXPECT_FALSE(this->store_->Open(d));
}

// Eight uploads at once, four of them of the same content: every blob whole, one copy each.
TYPED_TEST(BlobStoreTest, ConcurrentUploadsAndCommits) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::vector<std::string> contents;
  for (int i = 0; i < 8; ++i) {
    contents.push_back(i < 4 ? this->Bytes(1024 * 1024, 'S')
                             : this->Bytes(1024 * 1024 + i, 'a' + i));
  }
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      try {
        std::string id = this->NewId();
        const std::string& data = contents[i];
        std::string state = this->Append(id, 0, {}, data.substr(0, 1000));
        state = this->Append(id, 1000, state, data.substr(1000));
        this->store_->Commit(id, data.size(), state, core::Sha256Of(data));
      } catch (const std::exception&) {
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (const std::string& data : contents) {
    auto blob = this->store_->Open(core::Sha256Of(data));
    ASSERT_TRUE(blob);
    EXPECT_EQ(this->ReadAll(*blob), data);
  }
}

}  // namespace
}  // namespace kura::store
