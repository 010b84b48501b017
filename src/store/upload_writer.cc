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
// the chunks of one file are written in order, by one thread at a time.
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
    void* p = std::malloc(kBufferBytes);
    if (p == nullptr) throw StoreError("out of memory for an upload buffer");
    buffers_[index].reset(static_cast<char*>(p));
  }
  handed_out_ = std::span<char>(buffers_[index].get(), kBufferBytes);
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
  PwriteAll(chunk.data, chunk.size, chunk.offset);
  // Starts the writeback of these pages and returns: the disk writes them while the next chunk
  // arrives, instead of all at the commit's fsync, and the kernel's dirty limit is never what
  // throttles a push. An error here only means the fsync at commit does the work.
  (void)::sync_file_range(fd_, static_cast<off_t>(chunk.offset), static_cast<off_t>(chunk.size),
                          SYNC_FILE_RANGE_WRITE);
}

void UploadWriter::PwriteAll(const char* p, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      return Fail(std::string("cannot write upload: ") + std::strerror(e),
                  e == ENOSPC || e == EDQUOT);
    }
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
