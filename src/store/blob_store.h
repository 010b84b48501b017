// Content-addressed blob bytes, shared by every repository of every instance, and the bytes that
// upload sessions receive. Which repository may see which blob is the MetaStore's business.
//
// The interface is made of streams so that a filesystem (fs_blob_store.h) and an object store
// (s3_blob_store.h) implement it alike: a reader for a blob, an appender for each request that
// adds bytes to an upload, and a commit that makes an upload's bytes a blob under its digest.
//
// An upload is named by its session id and described by an opaque `state`: what the last append
// returned, recorded with the session's offset in the MetaStore (UploadSession::state), so that
// the next append may run on another node. The store keeps nothing in memory between calls.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// The bytes of one blob (or of an upload, for checks). Not thread-safe: one reader per request.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual uint64_t size() const = 0;
  // A descriptor the bytes can be sent from with sendfile(2), or -1 when the store has none.
  virtual int fd() const { return -1; }
  // Reads up to `n` bytes from `offset` into `buf`, blocking. Returns how many; 0 only at or past
  // the end. Throws StoreError (meta_store.h) when the store fails.
  virtual size_t ReadAt(uint64_t offset, char* buf, size_t n) = 0;
  // Says that bytes [offset, offset + length) are about to be read (a read-ahead hint).
  virtual void WillRead(uint64_t /*offset*/, uint64_t /*length*/) {}
  // As ReadAt, but without the copy: a view of up to `n` bytes from `offset` in the reader's own
  // buffers, valid until the next call on this reader (or its destruction); empty only at or past
  // the end. nullopt when the store has no buffers to lend (read with ReadAt instead). For a
  // store that receives the bytes into memory anyway (an object store), the pull then copies
  // each byte once, into the socket.
  virtual std::optional<std::string_view> Lend(uint64_t /*offset*/, size_t /*n*/) {
    return std::nullopt;
  }
};

// Receives the bytes one request appends to an upload, and stores them while the caller receives
// and hashes the next ones. Not thread-safe: one appender per request, and one per upload at a
// time (the caller holds the session's lease, meta_store.h).
class UploadAppender {
 public:
  // Waits for the bytes being stored. Without Finish or Abort the upload is left as far as they
  // got: what a request that lost its lease leaves to the lease's new holder.
  virtual ~UploadAppender() = default;
  // The next buffer to fill: free until passed to Submit. May block while earlier bytes are
  // being stored. Throws StoreError (StorageFull when the store has no room) once storing failed.
  virtual std::span<char> NextBuffer() = 0;
  // Queues the first `n` bytes of the buffer NextBuffer returned.
  virtual void Submit(size_t n) = 0;
  // Frees the buffers that are neither handed out nor being stored (for a client that sends
  // slowly).
  virtual void ReleaseIdleBuffers() {}
  // Stores every submitted byte and returns the upload's new state, to be recorded with the new
  // offset. Throws StoreError (StorageFull) when it cannot; then call Abort.
  virtual std::string Finish() = 0;
  // Forgets what this append added: the upload is as it was before it, and its state still
  // describes it. Best effort, never throws.
  virtual void Abort() = 0;
};

// Thread-safe: every method may be called from any thread at once. Failures throw StoreError
// (StorageFull for no room, StoreUnavailable when the store cannot be reached); "not found" is a
// normal return value.
class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // The blob's bytes, or nullptr when no blob has that digest.
  virtual std::unique_ptr<BlobReader> Open(const core::Digest& digest) = 0;

  // The blob's size, or nullopt when no blob has that digest.
  virtual std::optional<uint64_t> Stat(const core::Digest& digest) = 0;

  // Starts an append to upload `id`, which holds `offset` bytes that `state` describes (what the
  // last append's Finish returned; empty for a new upload, offset 0). Bytes beyond `offset`, left
  // by an append that was cut short or whose state was never recorded, are ignored or dropped.
  virtual std::unique_ptr<UploadAppender> Append(const std::string& id, uint64_t offset,
                                                 const std::string& state) = 0;

  // Makes the `size` bytes of the upload that `state` describes the blob `digest` (the caller has
  // hashed them). A crash at any point leaves either no blob or the whole blob. If the blob exists
  // already the upload's bytes are dropped. The upload is gone afterwards. Throws on failure and
  // then leaves no blob.
  virtual void Commit(const std::string& id, uint64_t size, const std::string& state,
                      const core::Digest& digest) = 0;

  // Removes every byte of upload `id`, recorded or not. Best effort, never throws.
  virtual void RemoveUpload(const std::string& id, const std::string& state) = 0;

  // The bytes an upload holds, for checking it (nullptr if the store cannot read them back: an
  // object store cannot read an unfinished multipart upload).
  virtual std::unique_ptr<BlobReader> ReadUpload(const std::string& id,
                                                 const std::string& state) = 0;

  // True when the store holds the first `offset` bytes of upload `id` as `state` describes them
  // (what an append from that offset and state would continue), for checks.
  virtual bool HoldsUpload(const std::string& id, uint64_t offset, const std::string& state) = 0;

  // The id of every upload that has bytes in the store untouched for at least `idle_seconds`
  // (0: every upload), for cleaning up what no session owns. An upload being written stays out
  // of the list for any `idle_seconds` longer than a request may take.
  virtual std::vector<std::string> ListUploads(int64_t idle_seconds) = 0;

  // Removes the blob's bytes (garbage collection only).
  virtual void Remove(const core::Digest& digest) = 0;
};

}  // namespace kura::store
