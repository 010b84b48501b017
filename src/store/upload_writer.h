// Appends the bytes of an upload to its data file while the caller receives and hashes the next
// ones. Big pushes are bound by three steps on the same bytes: the socket copy, SHA-256 and the
// file write. The writes run on a small pool of writer threads that every upload shares (never a
// thread per upload: a tenant opening hundreds of uploads must not make hundreds of threads), so
// the disk works while the hash does. The writes go through the page cache, so the blob a CI job
// pushes is still there when the job pulls it at once; each written buffer's writeback is started
// at once (sync_file_range), so dirty pages never pile up and the commit's fsync has little left
// to flush. (Writing past the cache with O_DIRECT was tried: its first pull read the disk, at a
// third of distribution's rate: bench/README.md.)
//
// Memory: at most kBuffers buffers of kBufferBytes per writer, allocated as they are first
// needed and freed with the writer, or by ReleaseIdleBuffers when the client is slow.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kura::store {

class UploadWriter {
 public:
  static constexpr size_t kBufferBytes = 1 << 20;
  static constexpr size_t kBuffers = 4;

  // `fd` is open for writing, holds exactly `offset` bytes (the ones before the append) and stays
  // open (owned by the caller) as long as the writer lives.
  UploadWriter(int fd, uint64_t offset);
  ~UploadWriter();  // waits for the writes in flight; the file is left as far as they got
  UploadWriter(const UploadWriter&) = delete;
  UploadWriter& operator=(const UploadWriter&) = delete;

  // The next buffer to fill. It is free until passed to Submit; waits (blocking) while every
  // buffer is still being written. Throws StoreError (StorageFull for a full disk) once a write
  // has failed.
  std::span<char> NextBuffer();
  // Queues the first `n` bytes of the buffer NextBuffer returned.
  void Submit(size_t n);
  // Waits for every queued write. Throws StoreError (StorageFull for a full disk) when one
  // failed, with the reason.
  void Finish();

  // Frees the buffers that are neither handed out nor being written. For a client that sends
  // slowly: its upload then holds only the buffer it is filling. (Freeing them as soon as they
  // are written would cost a fast upload page faults on every buffer: a third of its speed.)
  void ReleaseIdleBuffers();

  // Writes the queued chunks; called by a writer thread, never by two at once for one writer.
  void Drain();

 private:
  struct Chunk {
    char* data;
    size_t size;
    uint64_t offset;
    size_t buffer;  // index in buffers_
  };
  static constexpr unsigned kAllBusy = (1u << kBuffers) - 1;
  void Write(const Chunk& chunk);  // on a writer thread, or inline for a single-buffer append
  void PwriteAll(const char* p, size_t n, uint64_t offset);
  void Fail(const std::string& why, bool full);
  void Written(const Chunk& chunk);      // with mu_ held: its buffer is free again
  [[noreturn]] void ThrowError() const;  // with mu_ held

  int fd_;
  uint64_t next_offset_;  // file offset of the next byte handed to Submit

  // Slot i belongs to whoever has bit i of busy_: the caller while it fills it, the chunk while
  // it is written.
  struct FreeBuffer {
    void operator()(char* p) const { std::free(p); }
  };
  std::array<std::unique_ptr<char, FreeBuffer>, kBuffers> buffers_;
  std::span<char> handed_out_;
  size_t handed_out_index_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> queue_;    // guarded by mu_
  size_t in_flight_ = 0;       // queued or being written (guarded by mu_)
  unsigned busy_ = 0;          // bit i: buffers_[i] is handed out or in flight (guarded by mu_)
  bool scheduled_ = false;     // a writer thread has this writer to drain (guarded by mu_)
  bool pooled_ = false;        // chunks go to the writer threads (after the first)
  std::string error_;          // first failure (guarded by mu_)
  bool full_ = false;          // ... and it was a full disk (guarded by mu_)
  std::optional<Chunk> held_;  // the first chunk, until it is known whether a thread is needed
};

}  // namespace kura::store
