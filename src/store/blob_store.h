// Content-addressed blob bytes, shared by every repository of every instance, and the files that
// upload sessions write into. Which repository may see which blob is the MetaStore's business.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/digest.h"

namespace kura::store {

// An open file descriptor, closed on destruction.
class FileHandle {
 public:
  FileHandle() = default;
  explicit FileHandle(int fd) : fd_(fd) {}
  FileHandle(FileHandle&& o) noexcept : fd_(o.release()) {}
  FileHandle& operator=(FileHandle&& o) noexcept;
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  ~FileHandle();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

struct BlobFile {
  FileHandle file;
  uint64_t size = 0;
};

// Thread-safe: every method may be called from any thread at once.
class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Opens the blob for reading; nullopt when no blob has that digest.
  virtual std::optional<BlobFile> Open(const core::Digest& digest) = 0;

  // Opens (creating it if needed) the data file of upload `id` for appending, truncated to
  // `offset` bytes so that a chunk cut short leaves no trace. Returns an invalid handle on error.
  virtual FileHandle OpenUpload(const std::string& id, uint64_t offset) = 0;

  // Opens the data file of upload `id` for reading (to re-hash it after a restart).
  virtual FileHandle ReadUpload(const std::string& id) = 0;

  // Makes the upload's bytes the blob `digest`: fsync, then rename into place, then fsync the
  // directory. A crash at any point leaves either no blob or the whole blob. If the blob exists
  // already the upload file is removed. Returns false (and leaves no blob) on I/O error.
  virtual bool CommitUpload(const std::string& id, const core::Digest& digest) = 0;

  // Removes the upload's data file, if any.
  virtual void RemoveUpload(const std::string& id) = 0;

  // Removes the blob's bytes (garbage collection only).
  virtual void Remove(const core::Digest& digest) = 0;
};

}  // namespace kura::store
