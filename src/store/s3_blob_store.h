// BlobStore on an S3-compatible object store (s3_client.h), shared by every node of a cluster.
//
// Layout under the configured prefix:
//   blobs/<algorithm>/<2 hex>/<hex>     a blob, written once (content-addressed)
//   uploads/<id>/multipart              the id of the upload's S3 multipart upload
//   uploads/<id>/data                   the multipart upload's object, once assembled
//   uploads/<id>/tail-<offset>          the bytes after the last whole part, when the session
//                                       holds <offset> bytes
//
// An upload's bytes are whole parts of kPartBytes in its multipart upload, then a tail of fewer
// bytes in its own object (S3 parts but the last must be 5 MiB at least, and a PATCH may end
// anywhere). The next append, on any node, reads the tail back and goes on from there. The
// upload's state (blob_store.h) is the multipart upload's id; how many parts and how long a tail
// follow from the offset. Bytes of an append whose state was never recorded (a crash) are parts
// past the recorded count, which Commit leaves out, and a tail of an offset no session holds.
//
// Blobs are only ever read through kura (blob_store.h readers), never handed to clients as
// object-store URLs: the exposure rules decide who may read them.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "store/blob_store.h"
#include "store/s3_client.h"

namespace kura::store {

// A file that PutBlobFromFile could not read whole: an I/O error, or it changed while being read
// (the store did not fail).
class BlobFileUnreadable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class S3BlobStore final : public BlobStore {
 public:
  // The size of every part but the last; also the most a tail holds, and the piece a reader
  // fetches at a time.
  static constexpr uint64_t kPartBytes = 8 << 20;
  // The largest blob an upload becomes (Commit copies it to its key: S3's CopyObject limit).
  static constexpr uint64_t kMaxCommitBytes = 5ull << 30;

  // Creates the bucket if it is missing. Throws StoreUnavailable or StoreError when the store
  // does not answer or refuses.
  explicit S3BlobStore(S3Config config);
  ~S3BlobStore() override;

  std::unique_ptr<BlobReader> Open(const core::Digest& digest) override;
  std::optional<uint64_t> Stat(const core::Digest& digest) override;
  std::unique_ptr<UploadAppender> Append(const std::string& id, uint64_t offset,
                                         const std::string& state) override;
  void Commit(const std::string& id, uint64_t size, const std::string& state,
              const core::Digest& digest) override;
  void RemoveUpload(const std::string& id, const std::string& state) override;
  std::unique_ptr<BlobReader> ReadUpload(const std::string& id, const std::string& state) override;
  bool HoldsUpload(const std::string& id, uint64_t offset, const std::string& state) override;
  std::vector<std::string> ListUploads(int64_t idle_seconds) override;
  void Remove(const core::Digest& digest) override;

  // Stores the `size` bytes of the open file `fd`, read from its start, as the blob `digest`
  // (sha256), hashing them as they are read: the blob is stored, whole, only when they hash to
  // `digest`, replacing an object of its key that has another size (a damaged copy). Returns
  // the digest they hash to (the blob was stored when it equals `digest`). For `kura migrate`,
  // which copies the blob files of a data directory.
  //
  // Streams: up to kPartBytes go up in one PUT to the blob's key; more through an upload of a
  // fresh id, as a push does (Append, then Commit; RemoveUpload when the digest differs), so
  // that what a process killed half-way leaves is removed as an abandoned upload by the nodes.
  // A few parts at most are held in memory. Throws BlobFileUnreadable when the file cannot be
  // read or does not hold `size` bytes (it changed while being read), StoreError for a blob over
  // kMaxCommitBytes, and as the BlobStore contract says when the store fails; nothing is stored
  // then. `progress`, when given, is called from the calling thread with the count of bytes
  // read so far, after each part.
  core::Digest PutBlobFromFile(const core::Digest& digest, int fd, uint64_t size,
                               const std::function<void(uint64_t)>& progress = {});

  // The object key of blob `digest`, relative to the configured prefix.
  static std::string BlobKey(const core::Digest& digest);

  S3Client& client() { return client_; }

 private:
  S3Client client_;
};

}  // namespace kura::store
