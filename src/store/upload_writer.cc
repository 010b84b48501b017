#include "store/upload_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "store/meta_store.h"

namespace kura::store {

namespace {

// The writer threads every upload shares: as many as there are cores (2 to 8). A writer with
// queued chunks is handed to one thread, which writes them all before taking the next writer, so
// the chunks of one file are written by one thread at a time (O_DIRECT is a per-file flag).
class WriterThreads {
 public:
  static WriterThreads& Get() {
    static WriterThreads threads;
    return threads;
  }

  void Schedule(UploadWriter* writer) {
    {
      std::lock_guard lock(mu_);
      ready_.push_back(writer);
    }
    cv_.notify_one();
  }

 private:
  WriterThreads() {
    unsigned n = std::clamp(std::thread::hardware_concurrency(), 2u, 8u);
    for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~WriterThreads() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return !ready_.empty() || stopping_; });
      if (ready_.empty()) return;
      UploadWriter* writer = ready_.front();
      ready_.pop_front();
      lock.unlock();
      writer->Drain();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<UploadWriter*> ready_;  // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace

UploadWriter::UploadWriter(int fd, uint64_t offset) : fd_(fd), next_offset_(offset) {}

UploadWriter::~UploadWriter() {
  // The buffers and the file must outlive every queued write.
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !scheduled_; });
}

void UploadWriter::ThrowError() const {
  if (full_) throw StorageFull(error_);
  throw StoreError(error_);
}

std::span<char> UploadWriter::NextBuffer() {
  size_t index = 0;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return busy_ != kAllBusy || !error_.empty(); });
    if (!error_.empty()) ThrowError();
    // The lowest free buffer: while the disk keeps up, an upload uses two (one being filled, one
    // being written); the others are for bursts the disk lags behind.
    while (busy_ & (1u << index)) ++index;
    busy_ |= 1u << index;
  }
  if (!buffers_[index]) {
    void* p = std::aligned_alloc(kAlignment, kBufferBytes);
    if (p == nullptr) throw StoreError("out of memory for an upload buffer");
    buffers_[index].reset(static_cast<char*>(p));
  }
  // The buffer starts as far into its first block as the file offset is into its own, so that
  // every block-aligned stretch of the file is block-aligned in memory too (O_DIRECT needs both).
  size_t skew = static_cast<size_t>(next_offset_ % kAlignment);
  handed_out_ = std::span<char>(buffers_[index].get() + skew, kBufferBytes - skew);
  handed_out_index_ = index;
  return handed_out_;
}

void UploadWriter::Submit(size_t n) {
  Chunk chunk{handed_out_.data(), n, next_offset_, handed_out_index_};
  next_offset_ += n;
  handed_out_ = {};
  std::unique_lock lock(mu_);
  ++in_flight_;
  if (!pooled_ && !held_) {
    held_ = chunk;  // the first: maybe the only one, and then Finish writes it inline
    return;
  }
  pooled_ = true;
  if (held_) {
    queue_.push_back(*held_);
    held_.reset();
  }
  queue_.push_back(chunk);
  if (!scheduled_) {
    scheduled_ = true;
    lock.unlock();
    WriterThreads::Get().Schedule(this);
  }
}

void UploadWriter::ReleaseIdleBuffers() {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < kBuffers; ++i) {
    if (!(busy_ & (1u << i))) buffers_[i].reset();
  }
}

void UploadWriter::Written(const Chunk& chunk) {
  --in_flight_;
  busy_ &= ~(1u << chunk.buffer);
  cv_.notify_all();
}

void UploadWriter::Finish() {
  std::unique_lock lock(mu_);
  if (held_) {  // one buffer in all: not worth a thread
    Chunk chunk = *held_;
    held_.reset();
    lock.unlock();
    Write(chunk);
    lock.lock();
    Written(chunk);
  }
  cv_.wait(lock, [&] { return in_flight_ == 0 || !error_.empty(); });
  if (!error_.empty()) ThrowError();
}

void UploadWriter::Drain() {
  std::unique_lock lock(mu_);
  while (!queue_.empty()) {
    Chunk chunk = queue_.front();
    queue_.pop_front();
    bool failed = !error_.empty();
    lock.unlock();
    if (!failed) Write(chunk);  // after a failure the rest is only drained
    lock.lock();
    Written(chunk);
  }
  // The owner may destroy the writer as soon as it sees this: nothing touches it afterwards.
  scheduled_ = false;
  cv_.notify_all();
}

void UploadWriter::Write(const Chunk& chunk) {
  uint64_t begin = chunk.offset;
  uint64_t end = chunk.offset + chunk.size;
  uint64_t aligned_begin = (begin + kAlignment - 1) / kAlignment * kAlignment;
  uint64_t aligned_end = end / kAlignment * kAlignment;
  if (!direct_ || aligned_end <= aligned_begin) {
    PwriteAll(chunk.data, chunk.size, begin, false);
    return;
  }
  PwriteAll(chunk.data, aligned_begin - begin, begin, false);
  PwriteAll(chunk.data + (aligned_begin - begin), aligned_end - aligned_begin, aligned_begin, true);
  PwriteAll(chunk.data + (aligned_end - begin), end - aligned_end, aligned_end, false);
}

void UploadWriter::PwriteAll(const char* p, size_t n, uint64_t offset, bool direct) {
  while (n > 0) {
    direct = direct && direct_;
    if (direct != direct_set_) {
      int flags = ::fcntl(fd_, F_GETFL);
      flags = direct ? flags | O_DIRECT : flags & ~O_DIRECT;
      if (flags < 0 || ::fcntl(fd_, F_SETFL, flags) != 0) {
        if (direct) {  // this file system has no O_DIRECT (tmpfs before Linux 6.6, some FUSE)
          direct_ = false;
          continue;
        }
        return Fail(std::string("cannot clear O_DIRECT: ") + std::strerror(errno), false);
      }
      direct_set_ = direct;
    }
    ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL && direct) {  // alignment this device does not take: write buffered
        direct_ = false;
        continue;
      }
      return Fail(std::string("cannot write upload: ") + std::strerror(errno),
                  errno == ENOSPC || errno == EDQUOT);
    }
    if (direct && w % static_cast<ssize_t>(kAlignment) != 0) direct_ = false;
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
}

void UploadWriter::Fail(const std::string& why, bool full) {
  std::lock_guard lock(mu_);
  if (error_.empty()) {
    error_ = why;
    full_ = full;
  }
  cv_.notify_all();
}

}  // namespace kura::store
