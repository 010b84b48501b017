#include "store/s3_blob_store.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include "store/meta_store.h"
#include "store/s3_upload_state.h"

namespace kura::store {

namespace {

constexpr int kMaxParts = 10000;  // S3's limit, of an upload as of a copy
// The most a random read (not a pull) fetches at a time.
constexpr uint64_t kReadWindow = 8 << 20;

// An S3 failure as the BlobStore contract names it.
[[noreturn]] void Rethrow(const S3Error& e) {
  switch (e.kind()) {
    case S3ErrorKind::kUnavailable:
      throw StoreUnavailable(e.what());
    case S3ErrorKind::kStorageFull:
      throw StorageFull(e.what());
    default:
      throw StoreError(e.what());
  }
}

template <class F>
auto Checked(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const S3Error& e) {
    Rethrow(e);
  }
}

std::string UploadPrefix(const std::string& id) {
  return "uploads/" + id + "/";
}
std::string DataKey(const std::string& id) {
  return UploadPrefix(id) + "data";
}
std::string MultipartKey(const std::string& id) {
  return UploadPrefix(id) + "multipart";
}
std::string TailKey(const std::string& id, uint64_t offset) {
  return UploadPrefix(id) + "tail-" + std::to_string(offset);
}
std::string CopyKey(const std::string& id) {
  return UploadPrefix(id) + "copy";
}

// The upload's state, or StoreError naming the upload when it is not one of this store's.
S3UploadState DecodeUploadState(const std::string& id, std::string_view text) {
  std::optional<S3UploadState> state = ParseS3UploadState(text);
  if (!state) throw StoreError("upload " + id + ": its recorded state is not an S3 upload's");
  return *std::move(state);
}

// "10,000 parts of 16 MiB at most (156.25 GiB)", for errors.
std::string PartLimitText(uint64_t part_bytes) {
  char text[96];
  std::snprintf(text, sizeof text, "%d parts of %llu MiB at most (%.6g GiB)", kMaxParts,
                static_cast<unsigned long long>(part_bytes >> 20),
                static_cast<double>(part_bytes) * kMaxParts / (1ull << 30));
  return text;
}

// What uploads/<id>/copy holds while a commit copies the upload in parts: the multipart upload
// of the blob's key, the size of its parts (but the last) and the key, one a line.
struct CopyRecord {
  std::string upload;
  uint64_t part_bytes = 0;
  std::string key;
};

std::string EncodeCopyRecord(const CopyRecord& r) {
  return r.upload + "\n" + std::to_string(r.part_bytes) + "\n" + r.key;
}

std::optional<CopyRecord> DecodeCopyRecord(std::string_view text) {
  size_t first = text.find('\n');
  size_t second = first == std::string_view::npos ? first : text.find('\n', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  CopyRecord r;
  r.upload = std::string(text.substr(0, first));
  std::string_view number = text.substr(first + 1, second - first - 1);
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), r.part_bytes);
  r.key = std::string(text.substr(second + 1));
  if (ec != std::errc() || end != number.data() + number.size() || r.part_bytes == 0 ||
      r.upload.empty() || r.key.empty()) {
    return std::nullopt;
  }
  return r;
}

// The size of the parts (but the last) of a copy of `size` bytes in parts.
uint64_t CopyPartBytes(const S3BlobStoreOptions& options, uint64_t size) {
  uint64_t part = std::min(options.copy_part_bytes, options.max_copy_bytes);
  return std::max(part, (size + kMaxParts - 1) / kMaxParts);
}

// The threads that upload parts, shared by every upload: a few, never one per upload.
class PartThreads {
 public:
  static PartThreads& Get() {
    static PartThreads threads;
    return threads;
  }
  void Run(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  PartThreads() {
    for (int i = 0; i < 8; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~PartThreads() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void Loop() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return !jobs_.empty() || stopping_; });
      if (jobs_.empty()) return;
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  std::vector<std::thread> threads_;
};

// An append: whole parts go to the multipart upload from the part threads while the caller fills
// the next buffer; what is left at the end becomes the new tail object.
class S3Appender final : public UploadAppender {
 public:
  static constexpr size_t kBuffers = 3;  // one being filled, two being uploaded

  S3Appender(S3Client& client, std::string id, uint64_t offset, S3UploadState state)
      : client_(client),
        id_(std::move(id)),
        part_(state.part_bytes),
        next_part_(static_cast<int>(offset / part_) + 1),
        offset_(offset),
        multipart_(std::move(state.multipart)) {
    uint64_t tail = offset % part_;
    if (offset >= part_ && multipart_.empty()) {
      throw StoreError("upload " + id_ + " holds " + std::to_string(offset) +
                       " bytes but its state names no multipart upload");
    }
    current_ = TakeBuffer();
    if (tail > 0) {
      std::optional<std::string> bytes =
          Checked([&] { return client_.GetObjectBytes(TailKey(id_, offset)); });
      if (!bytes || bytes->size() != tail) {
        throw StoreError("upload " + id_ + ": the last " + std::to_string(tail) +
                         " bytes it holds are missing from the object store");
      }
      std::copy(bytes->begin(), bytes->end(), buffers_[current_].begin());
      filled_ = tail;
    }
  }

  ~S3Appender() override { WaitForParts(); }

  std::span<char> NextBuffer() override {
    CheckFailure();
    return std::span<char>(buffers_[current_].data() + filled_, part_ - filled_);
  }

  void Submit(size_t n) override {
    filled_ += n;
    received_ += n;
    if (filled_ < part_) return;
    UploadCurrent();
    current_ = TakeBuffer();
    filled_ = 0;
  }

  void ReleaseIdleBuffers() override {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < kBuffers; ++i) {
      if (!(busy_ & (1u << i))) std::string().swap(buffers_[i]);
    }
  }

  std::string Finish() override {
    WaitForParts();
    CheckFailure();
    uint64_t end = offset_ + received_;
    if (filled_ > 0) {
      Checked([&] {
        return client_.PutObject(TailKey(id_, end),
                                 std::string_view(buffers_[current_].data(), filled_));
      });
    }
    return EncodeS3UploadState({part_, multipart_});
  }

  void Abort() override { WaitForParts(); }

 private:
  size_t TakeBuffer() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return busy_ != (1u << kBuffers) - 1 || !error_.empty(); });
    size_t i = 0;
    while (busy_ & (1u << i)) ++i;
    busy_ |= 1u << i;
    lock.unlock();
    if (buffers_[i].size() != part_) buffers_[i].resize(part_);
    return i;
  }

  void UploadCurrent() {
    if (multipart_.empty()) {
      // Named first, so that an upload's bytes can always be found to be removed.
      multipart_ = Checked([&] { return client_.CreateMultipartUpload(DataKey(id_)); });
      Checked([&] { return client_.PutObject(MultipartKey(id_), multipart_); });
    }
    if (next_part_ > kMaxParts) {
      throw StoreError("upload " + id_ + ": an S3 upload holds " + PartLimitText(part_));
    }
    size_t buffer = current_;
    int part = next_part_++;
    {
      std::lock_guard lock(mu_);
      ++in_flight_;
    }
    PartThreads::Get().Run([this, buffer, part] {
      std::string error;
      bool full = false, unavailable = false;
      try {
        client_.UploadPart(DataKey(id_), multipart_, part,
                           std::string_view(buffers_[buffer].data(), part_));
      } catch (const S3Error& e) {
        error = e.what();
        full = e.kind() == S3ErrorKind::kStorageFull;
        unavailable = e.kind() == S3ErrorKind::kUnavailable;
      } catch (const std::exception& e) {
        error = e.what();
      }
      std::lock_guard lock(mu_);
      if (!error.empty() && error_.empty()) {
        error_ = error;
        full_ = full;
        unavailable_ = unavailable;
      }
      busy_ &= ~(1u << buffer);
      --in_flight_;
      cv_.notify_all();
    });
  }

  void WaitForParts() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
  }

  void CheckFailure() {
    std::lock_guard lock(mu_);
    if (error_.empty()) return;
    if (full_) throw StorageFull(error_);
    if (unavailable_) throw StoreUnavailable(error_);
    throw StoreError(error_);
  }

  S3Client& client_;
  const std::string id_;
  const uint64_t part_;  // the size of the upload's parts
  int next_part_;
  const uint64_t offset_;
  std::string multipart_;
  std::array<std::string, kBuffers> buffers_;
  size_t current_ = 0;   // the buffer being filled
  uint64_t filled_ = 0;  // bytes in it
  uint64_t received_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  unsigned busy_ = 0;         // bit i: buffers_[i] is being filled or uploaded (guarded by mu_)
  size_t in_flight_ = 0;      // parts being uploaded (guarded by mu_)
  std::string error_;         // the first failed part's (guarded by mu_)
  bool full_ = false;         // guarded by mu_
  bool unavailable_ = false;  // guarded by mu_
};

// A blob's bytes from the object store. Told what will be read (WillRead: a pull), it streams
// them with one GET from a thread of its own into a few reused buffers that ReadAt drains, so
// the gateway sends at its own pace instead of answering one request per window. Read at random
// (fsck, a resumed hash), it fetches a window at a time. Buffers are reused: memory fresh from
// the system costs a page fault per 4 KiB on first touch, which on these VMs was most of a
// pull's CPU time.
class S3Reader final : public BlobReader {
 public:
  static constexpr size_t kChunk = 4 << 20;
  // Received ahead of the reader at most, the one lent to it included.
  static constexpr size_t kChunks = 4;

  S3Reader(S3Client& client, std::string key, uint64_t size)
      : client_(client), key_(std::move(key)), size_(size) {}
  ~S3Reader() override { StopStream(); }

  uint64_t size() const override { return size_; }

  size_t ReadAt(uint64_t offset, char* buf, size_t n) override {
    std::string_view lent = *Lend(offset, n);
    std::copy_n(lent.data(), lent.size(), buf);
    return lent.size();
  }

  std::optional<std::string_view> Lend(uint64_t offset, size_t n) override {
    if (offset >= size_ || n == 0) return std::string_view();
    if (ahead_ && offset < read_end_) {
      if (!streaming_) StartStream(offset);
      if (offset == stream_at_) return LendStream(n);
      StopStream();  // not sequential after all: random reads from here on
      ahead_ = false;
    }
    if (!(offset >= window_start_ && offset < window_start_ + window_.size())) {
      Fetch(offset, window_);
      window_start_ = offset;
    }
    uint64_t at = offset - window_start_;
    size_t got = static_cast<size_t>(std::min<uint64_t>(n, window_.size() - at));
    return std::string_view(window_.data() + at, got);
  }

  void WillRead(uint64_t offset, uint64_t length) override {
    if (streaming_) return;
    ahead_ = true;
    read_end_ = std::min(size_, offset + length);
  }

 private:
  void StartStream(uint64_t offset) {
    streaming_ = true;
    stream_at_ = offset;
    receiver_ = std::thread([this, offset] {
      std::string filling;
      std::exception_ptr failure;
      try {
        bool found = client_.GetObject(
            key_,
            [&](std::string_view piece) {
              while (!piece.empty()) {
                if (filling.capacity() < kChunk) filling = TakeFree();
                size_t n = std::min(piece.size(), kChunk - filling.size());
                filling.append(piece.substr(0, n));
                piece.remove_prefix(n);
                if (filling.size() == kChunk) Deliver(std::move(filling));
              }
            },
            ByteRange(offset, read_end_ - 1));
        if (!found) throw StoreError("blob " + key_ + " went away while it was being read");
        if (!filling.empty()) Deliver(std::move(filling));
      } catch (const S3Error& e) {
        try {
          Rethrow(e);
        } catch (...) {
          failure = std::current_exception();
        }
      } catch (...) {
        failure = std::current_exception();
      }
      std::lock_guard lock(mu_);
      done_ = true;
      failure_ = failure;
      cv_.notify_all();
    });
  }

  // On the receiving thread: waits for a free buffer (the reader is behind), or throws to stop
  // the transfer when the reader went away.
  std::string TakeFree() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopping_ || ready_.size() < kChunks; });
    if (stopping_) throw StoreError("read abandoned");
    std::string b;
    if (!free_.empty()) {
      b = std::move(free_.back());
      free_.pop_back();
    }
    b.clear();
    b.reserve(kChunk);
    return b;
  }
  void Deliver(std::string chunk) {
    std::lock_guard lock(mu_);
    ready_.push_back(std::move(chunk));
    cv_.notify_all();
  }

  // The next bytes of the stream, in the chunk they arrived in. The chunk stays at the front of
  // ready_ while lent: it goes back to the receiver only at the next call, once read to its end.
  std::string_view LendStream(size_t n) {
    std::unique_lock lock(mu_);
    if (!ready_.empty() && front_at_ == ready_.front().size()) {
      free_.push_back(std::move(ready_.front()));
      ready_.pop_front();
      front_at_ = 0;
      cv_.notify_all();
    }
    cv_.wait(lock, [&] { return !ready_.empty() || done_; });
    if (ready_.empty()) {
      if (failure_) std::rethrow_exception(failure_);
      throw StoreError("blob " + key_ + " is shorter than its recorded size");
    }
    const std::string& front = ready_.front();
    size_t got = std::min(n, front.size() - front_at_);
    std::string_view lent(front.data() + front_at_, got);
    front_at_ += got;
    stream_at_ += got;
    return lent;
  }

  void StopStream() {
    if (!streaming_) return;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    receiver_.join();
    streaming_ = false;
  }

  // Fills `into` with a window from `start`: kReadWindow, or less at the end of the blob.
  void Fetch(uint64_t start, std::string& into) {
    uint64_t end = std::min(size_, start + kReadWindow);
    into.clear();  // keeps its capacity
    into.reserve(static_cast<size_t>(end - start));
    bool found = Checked([&] {
      return client_.GetObject(
          key_, [&](std::string_view piece) { into.append(piece); }, ByteRange(start, end - 1));
    });
    if (!found) throw StoreError("blob " + key_ + " went away while it was being read");
    if (into.size() != end - start) {
      throw StoreError("blob " + key_ + " is shorter than its recorded size");
    }
  }

  S3Client& client_;
  const std::string key_;
  const uint64_t size_;
  std::string window_;
  uint64_t window_start_ = 0;
  bool ahead_ = false;
  uint64_t read_end_ = 0;

  bool streaming_ = false;
  uint64_t stream_at_ = 0;  // the blob offset of the next byte ReadStream returns
  std::thread receiver_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> ready_;  // received, in order (guarded by mu_)
  std::vector<std::string> free_;  // drained, for reuse (guarded by mu_)
  size_t front_at_ = 0;            // bytes of ready_.front() already read
  bool done_ = false;              // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  std::exception_ptr failure_;     // guarded by mu_
};

// ISO 8601 "2026-12-02T00:41:07.123Z" (S3's LastModified) as seconds since the epoch, 0 when it
// does not parse.
int64_t ParseTime(const std::string& text) {
  std::tm tm{};
  if (!strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

std::string S3BlobStore::BlobKey(const core::Digest& digest) {
  std::string_view hex = digest.hex();
  std::string key = "blobs/";
  key += digest.algorithm();
  key += '/';
  key += hex.substr(0, 2);
  key += '/';
  key += hex;
  return key;
}

S3BlobStore::S3BlobStore(S3Config config, S3BlobStoreOptions options)
    : client_(std::move(config)), options_(options) {
  if (options_.max_copy_bytes < kMinPartBytes || options_.copy_part_bytes < kMinPartBytes ||
      options_.copy_part_bytes > kMaxPartBytes || options_.copy_parallelism < 1) {
    throw std::invalid_argument(
        "S3 blob store: max_copy_bytes and copy_part_bytes must be 5 MiB at least, "
        "copy_part_bytes 5 GiB at most, copy_parallelism 1 at least");
  }
  Checked([&] { client_.CreateBucketIfMissing(); });
}

S3BlobStore::~S3BlobStore() = default;

std::unique_ptr<BlobReader> S3BlobStore::Open(const core::Digest& digest) {
  std::string key = BlobKey(digest);
  std::optional<ObjectInfo> info = Checked([&] { return client_.HeadObject(key); });
  if (!info) return nullptr;
  return std::make_unique<S3Reader>(client_, std::move(key), info->size);
}

std::optional<uint64_t> S3BlobStore::Stat(const core::Digest& digest) {
  std::optional<ObjectInfo> info = Checked([&] { return client_.HeadObject(BlobKey(digest)); });
  if (!info) return std::nullopt;
  return info->size;
}

std::unique_ptr<UploadAppender> S3BlobStore::Append(const std::string& id, uint64_t offset,
                                                    const std::string& state) {
  return std::make_unique<S3Appender>(client_, id, offset, DecodeUploadState(id, state));
}

void S3BlobStore::Commit(const std::string& id, uint64_t size, const std::string& state,
                         const core::Digest& digest) {
  const std::string to = BlobKey(digest);
  if (Checked([&] { return client_.HeadObject(to); })) {  // content-addressed: there already
    RemoveUpload(id, state);
    return;
  }
  const S3UploadState upload = DecodeUploadState(id, state);
  const uint64_t parts = size / upload.part_bytes;
  const uint64_t tail = size % upload.part_bytes;
  std::string from;  // the object of the upload's bytes, to copy to `to`
  std::string etag;  // its ETag
  if (parts == 0) {
    if (tail == 0) {
      Checked([&] { return client_.PutObject(to, {}); });
    } else {
      std::optional<ObjectInfo> info =
          Checked([&] { return client_.HeadObject(TailKey(id, size)); });
      if (!info || info->size != tail) {
        throw StoreError("upload " + id + " does not hold the " + std::to_string(size) +
                         " bytes recorded");
      }
      from = TailKey(id, size);
      etag = info->etag;
    }
  } else {
    if (upload.multipart.empty()) throw StoreError("upload " + id + " names no multipart upload");
    from = DataKey(id);
    std::optional<std::vector<S3Part>> listed;
    try {
      listed = client_.ListParts(DataKey(id), upload.multipart);
    } catch (const S3Error& e) {
      if (e.kind() != S3ErrorKind::kNotFound) Rethrow(e);
    }
    if (!listed) {
      // The multipart upload is gone: an earlier attempt of this commit assembled it (a commit
      // sent again after a failure of the copy), and the object it made holds the bytes.
      std::optional<ObjectInfo> info = Checked([&] { return client_.HeadObject(DataKey(id)); });
      if (!info || info->size != size) {
        throw StoreError("upload " + id + ": its multipart upload is gone, and no object of its " +
                         std::to_string(size) + " bytes was assembled from it");
      }
      etag = info->etag;
    } else {
      std::vector<CompletedPart> complete;
      std::map<int, S3Part> stored;
      for (S3Part& p : *listed) stored[p.number] = std::move(p);
      if (tail > 0) {
        std::optional<std::string> bytes =
            Checked([&] { return client_.GetObjectBytes(TailKey(id, size)); });
        if (!bytes || bytes->size() != tail) {
          throw StoreError("upload " + id + ": its last " + std::to_string(tail) +
                           " bytes are missing from the object store");
        }
        int number = static_cast<int>(parts) + 1;
        std::string part_etag = Checked(
            [&] { return client_.UploadPart(DataKey(id), upload.multipart, number, *bytes); });
        stored[number] = S3Part{number, part_etag, tail};
      }
      // Only the parts the recorded size counts: parts past them are an unrecorded append's.
      uint64_t total = 0;
      for (int n = 1; n <= static_cast<int>(parts) + (tail > 0 ? 1 : 0); ++n) {
        auto it = stored.find(n);
        uint64_t want = n <= static_cast<int>(parts) ? upload.part_bytes : tail;
        if (it == stored.end() || it->second.size != want) {
          throw StoreError("upload " + id + " lacks part " + std::to_string(n) +
                           " of the bytes recorded");
        }
        complete.push_back({n, it->second.etag});
        total += want;
      }
      if (total != size) throw StoreError("upload " + id + " does not add up to its size");
      etag = Checked(
          [&] { return client_.CompleteMultipartUpload(DataKey(id), upload.multipart, complete); });
    }
  }
  if (!from.empty()) {
    try {
      CopyToBlob(id, from, etag, size, to);
    } catch (const std::exception&) {
      // Another attempt of this commit, on another node, may have finished first: every way an
      // object gets to a blob's key puts it there whole.
      std::optional<ObjectInfo> there = Checked([&] { return client_.HeadObject(to); });
      if (!there || there->size != size) throw;
    }
  }
  std::optional<ObjectInfo> stored = Checked([&] { return client_.HeadObject(to); });
  if (!stored || stored->size != size) {
    throw StoreError("blob " + digest.str() + " was not stored whole");
  }
  RemoveUpload(id, state);
}

void S3BlobStore::CopyToBlob(const std::string& id, const std::string& from,
                             const std::string& etag, uint64_t size, const std::string& to) {
  if (size <= options_.max_copy_bytes) {
    Checked([&] { return client_.CopyObject(from, to); });
    return;
  }
  CopyInParts(id, from, etag, size, to);
}

void S3BlobStore::CopyInParts(const std::string& id, const std::string& from,
                              const std::string& etag, uint64_t size, const std::string& to) {
  const uint64_t part_bytes = CopyPartBytes(options_, size);
  const int count = static_cast<int>((size + part_bytes - 1) / part_bytes);
  auto range_of = [&](int n) {
    uint64_t first = static_cast<uint64_t>(n - 1) * part_bytes;
    return ByteRange(first, std::min(size, first + part_bytes) - 1);
  };

  // An earlier attempt's copy (this commit sent again): its parts are kept when it is still open
  // and cut the same way.
  std::string upload;
  std::map<int, S3Part> copied;
  std::optional<std::string> text = Checked([&] { return client_.GetObjectBytes(CopyKey(id)); });
  std::optional<CopyRecord> record = text ? DecodeCopyRecord(*text) : std::nullopt;
  if (record && record->key == to && record->part_bytes == part_bytes) {
    try {
      for (S3Part& p : client_.ListParts(to, record->upload)) copied[p.number] = std::move(p);
      upload = record->upload;
    } catch (const S3Error& e) {
      if (e.kind() != S3ErrorKind::kNotFound) Rethrow(e);  // gone (aborted): start again
    }
  } else if (record) {
    Checked([&] { client_.AbortMultipartUpload(record->key, record->upload); });
  }
  if (upload.empty()) {
    upload = Checked([&] { return client_.CreateMultipartUpload(to); });
    // Recorded before any part: what a failure leaves is found by the next attempt, or by
    // RemoveUpload, which aborts it.
    Checked([&] {
      return client_.PutObject(CopyKey(id), EncodeCopyRecord({upload, part_bytes, to}));
    });
  }

  std::vector<CompletedPart> complete(static_cast<size_t>(count));
  std::vector<int> missing;
  for (int n = 1; n <= count; ++n) {
    ByteRange range = range_of(n);
    auto it = copied.find(n);
    if (it != copied.end() && it->second.size == *range.last - range.first + 1) {
      complete[static_cast<size_t>(n - 1)] = {n, it->second.etag};
    } else {
      missing.push_back(n);
    }
  }

  // The missing parts, copy_parallelism at a time; the first failure stops the others.
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::exception_ptr failure;  // guarded by mu
  auto work = [&] {
    while (true) {
      {
        std::lock_guard lock(mu);
        if (failure) return;
      }
      size_t i = next++;
      if (i >= missing.size()) return;
      int n = missing[i];
      try {
        std::string part_etag = client_.UploadPartCopy(to, upload, n, from, range_of(n), etag);
        std::lock_guard lock(mu);
        complete[static_cast<size_t>(n - 1)] = {n, std::move(part_etag)};
      } catch (...) {
        std::lock_guard lock(mu);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  const size_t workers = std::min(static_cast<size_t>(options_.copy_parallelism), missing.size());
  const size_t helpers = workers > 1 ? workers - 1 : 0;  // this thread is one
  std::vector<std::thread> threads;
  try {
    for (size_t i = 0; i < helpers; ++i) threads.emplace_back(work);
  } catch (...) {
    std::lock_guard lock(mu);
    if (!failure) failure = std::current_exception();
  }
  work();
  for (std::thread& t : threads) t.join();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const S3Error& e) {
      Rethrow(e);
    }
  }
  Checked([&] { return client_.CompleteMultipartUpload(to, upload, complete); });
}

void S3BlobStore::RemoveUpload(const std::string& id, const std::string& state) {
  try {
    // A state this store did not write names nothing: the upload's own record does.
    std::optional<S3UploadState> parsed = ParseS3UploadState(state);
    std::string multipart = parsed ? parsed->multipart : std::string();
    if (multipart.empty()) {
      if (auto named = client_.GetObjectBytes(MultipartKey(id))) multipart = *named;
    }
    if (!multipart.empty()) client_.AbortMultipartUpload(DataKey(id), multipart);
    std::string token;
    do {
      S3ObjectPage page = client_.ListObjects(UploadPrefix(id), token);
      for (const S3Object& o : page.objects) {
        if (o.key != CopyKey(id)) continue;
        // A copy in parts that did not finish: its parts go while the record still names them.
        std::optional<std::string> text = client_.GetObjectBytes(o.key);
        std::optional<CopyRecord> record = text ? DecodeCopyRecord(*text) : std::nullopt;
        if (record) client_.AbortMultipartUpload(record->key, record->upload);
      }
      for (const S3Object& o : page.objects) client_.DeleteObject(o.key);
      token = page.next_continuation_token;
    } while (!token.empty());
  } catch (const std::exception&) {
    // Best effort: what is left is found again by ListUploads and removed later.
  }
}

std::unique_ptr<BlobReader> S3BlobStore::ReadUpload(const std::string&, const std::string&) {
  return nullptr;  // the parts of an unfinished multipart upload cannot be read back
}

bool S3BlobStore::HoldsUpload(const std::string& id, uint64_t offset, const std::string& state) {
  std::optional<S3UploadState> parsed = ParseS3UploadState(state);
  if (!parsed) return false;  // not a state of this store's: it holds nothing it describes
  const S3UploadState& upload = *parsed;
  const uint64_t parts = offset / upload.part_bytes;
  const uint64_t tail = offset % upload.part_bytes;
  if (parts > 0) {
    if (upload.multipart.empty()) return false;
    std::optional<std::vector<S3Part>> listed;
    try {
      listed = client_.ListParts(DataKey(id), upload.multipart);
    } catch (const S3Error& e) {
      if (e.kind() != S3ErrorKind::kNotFound) Rethrow(e);
    }
    if (!listed) {
      // Assembled by a commit that has not finished (its copy failed): the object holds them.
      std::optional<ObjectInfo> info = Checked([&] { return client_.HeadObject(DataKey(id)); });
      return info && info->size == offset;
    }
    std::map<int, uint64_t> sizes;
    for (const S3Part& p : *listed) sizes[p.number] = p.size;
    for (int n = 1; n <= static_cast<int>(parts); ++n) {
      if (!sizes.count(n) || sizes[n] != upload.part_bytes) return false;
    }
  }
  if (tail == 0) return true;
  std::optional<ObjectInfo> info = Checked([&] { return client_.HeadObject(TailKey(id, offset)); });
  return info && info->size == tail;
}

std::vector<std::string> S3BlobStore::ListUploads(int64_t idle_seconds) {
  std::map<std::string, int64_t> last_written;  // id -> newest object of the upload
  std::string token;
  do {
    S3ObjectPage page = Checked([&] { return client_.ListObjects("uploads/", token); });
    for (const S3Object& o : page.objects) {
      std::string_view rest = std::string_view(o.key).substr(8);
      std::string id(rest.substr(0, rest.find('/')));
      int64_t& t = last_written[id];
      t = std::max(t, ParseTime(o.last_modified));
    }
    token = page.next_continuation_token;
  } while (!token.empty());
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::vector<std::string> ids;
  for (const auto& [id, t] : last_written) {
    if (now - t >= idle_seconds) ids.push_back(id);
  }
  return ids;
}

namespace {

// Fills `buf` with the `n` bytes of `fd` at `offset`; throws BlobFileUnreadable when they are not
// all there.
void ReadFileBytes(int fd, uint64_t offset, char* buf, size_t n, uint64_t size) {
  size_t done = 0;
  while (done < n) {
    ssize_t got = ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      throw BlobFileUnreadable(std::string("cannot read the file: ") + std::strerror(errno));
    }
    if (got == 0) {
      throw BlobFileUnreadable("the file ends at byte " + std::to_string(offset + done) +
                               ", not at " + std::to_string(size) +
                               ": it changed while being read");
    }
    done += static_cast<size_t>(got);
  }
}

// Throws BlobFileUnreadable when `fd` holds bytes past `size`.
void RefuseLongerFile(int fd, uint64_t size) {
  char extra;
  ssize_t got;
  do {
    got = ::pread(fd, &extra, 1, static_cast<off_t>(size));
  } while (got < 0 && errno == EINTR);
  if (got != 0) {
    throw BlobFileUnreadable("the file holds more than " + std::to_string(size) +
                             " bytes: it changed while being read");
  }
}

std::string NewMigrationUploadId() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw StoreError("no randomness for an upload id");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "migrate-";
  for (unsigned char c : b) {
    id.push_back(kHex[c >> 4]);
    id.push_back(kHex[c & 15]);
  }
  return id;
}

}  // namespace

core::Digest S3BlobStore::PutBlobFromFile(const core::Digest& digest, int fd, uint64_t size,
                                          const std::function<void(uint64_t)>& progress) {
  if (digest.algorithm() != "sha256") {
    throw StoreError("blob " + digest.str() + ": only sha256 blobs can be verified");
  }
  if (size > kMaxBlobBytes) {
    throw StoreError("blob " + digest.str() + " holds " + std::to_string(size) +
                     " bytes: an S3 upload holds " + PartLimitText(kPartBytes));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  core::Sha256 hash;
  if (size <= kPartBytes) {
    std::string bytes(static_cast<size_t>(size), '\0');
    ReadFileBytes(fd, 0, bytes.data(), bytes.size(), size);
    RefuseLongerFile(fd, size);
    hash.Update(bytes);
    core::Digest got = hash.Finish();
    if (got == digest) Checked([&] { return client_.PutObject(BlobKey(digest), bytes); });
    return got;
  }
  const std::string id = NewMigrationUploadId();
  std::string state;
  try {
    {
      S3Appender appender(client_, id, 0, S3UploadState{});
      for (uint64_t offset = 0; offset < size;) {
        std::span<char> buffer = appender.NextBuffer();
        size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), size - offset));
        ReadFileBytes(fd, offset, buffer.data(), n, size);
        hash.Update(buffer.data(), n);
        appender.Submit(n);
        offset += n;
        if (progress) progress(offset);
      }
      RefuseLongerFile(fd, size);
      state = appender.Finish();
    }
    core::Digest got = hash.Finish();
    if (got == digest) {
      // Commit keeps an object already at the key (the same bytes, content-addressed), unless
      // its size tells it is not.
      const std::string key = BlobKey(digest);
      std::optional<ObjectInfo> there = Checked([&] { return client_.HeadObject(key); });
      if (there && there->size != size) Checked([&] { client_.DeleteObject(key); });
      Commit(id, size, state, digest);
    } else {
      RemoveUpload(id, state);
    }
    return got;
  } catch (...) {
    RemoveUpload(id, state);
    throw;
  }
}

void S3BlobStore::Remove(const core::Digest& digest) {
  Checked([&] { client_.DeleteObject(BlobKey(digest)); });
}

}  // namespace kura::store
