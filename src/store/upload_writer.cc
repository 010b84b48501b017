#include "store/upload_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "store/meta_store.h"

namespace kura::store {

UploadWriter::UploadWriter(int fd, uint64_t offset) : fd_(fd), next_offset_(offset) {}

UploadWriter::~UploadWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::span<char> UploadWriter::NextBuffer() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ < kBuffers || !error_.empty(); });
    if (!error_.empty()) throw StoreError(error_);
  }
  if (buffers_.size() <= next_buffer_) {
    void* p = std::aligned_alloc(kAlignment, kBufferBytes);
    if (p == nullptr) throw StoreError("out of memory for an upload buffer");
    buffers_.emplace_back(static_cast<char*>(p), &std::free);
  }
  // The buffer starts as far into its first block as the file offset is into its own, so that
  // every block-aligned stretch of the file is block-aligned in memory too (O_DIRECT needs both).
  size_t skew = static_cast<size_t>(next_offset_ % kAlignment);
  handed_out_ = std::span<char>(buffers_[next_buffer_].get() + skew, kBufferBytes - skew);
  next_buffer_ = (next_buffer_ + 1) % kBuffers;
  return handed_out_;
}

void UploadWriter::Submit(size_t n) {
  Chunk chunk{handed_out_.data(), n, next_offset_};
  next_offset_ += n;
  handed_out_ = {};
  std::unique_lock lock(mu_);
  ++in_flight_;
  if (!held_ && !thread_.joinable()) {
    held_ = chunk;
    return;
  }
  if (held_) {
    queue_.push_back(*held_);
    held_.reset();
    thread_ = std::thread([this] { Run(); });
  }
  queue_.push_back(chunk);
  lock.unlock();
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
    --in_flight_;
  }
  cv_.wait(lock, [&] { return in_flight_ == 0 || !error_.empty(); });
  if (!error_.empty()) throw StoreError(error_);
}

void UploadWriter::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;
    Chunk chunk = queue_.front();
    queue_.pop_front();
    bool failed = !error_.empty();
    lock.unlock();
    if (!failed) Write(chunk);  // after a failure the rest is only drained
    lock.lock();
    --in_flight_;
    cv_.notify_all();
  }
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
        return Fail(std::string("cannot clear O_DIRECT: ") + std::strerror(errno));
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
      return Fail(std::string("cannot write upload: ") + std::strerror(errno));
    }
    if (direct && w % static_cast<ssize_t>(kAlignment) != 0) direct_ = false;
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
}

void UploadWriter::Fail(const std::string& why) {
  std::lock_guard lock(mu_);
  if (error_.empty()) error_ = why;
  cv_.notify_all();
}

}  // namespace kura::store
