// BlobStore on an S3-compatible object store (s3_client.h), shared by every node of a cluster.
//
// Layout under the configured prefix:
//   blobs/<algorithm>/<2 hex>/<hex>     a blob, written once (content-addressed)
//   uploads/<id>/multipart              the id of the upload's S3 multipart upload
//   uploads/<id>/data                   the multipart upload's object, once assembled
//   uploads/<id>/tail-<offset>          the bytes after the last whole part, when the session
//                                       holds <offset> bytes
//   uploads/<id>/copy                   while a commit copies the upload to its blob's key in
//                                       parts: that multipart upload's id, part size and key
//
// An upload's bytes are whole parts of kPartBytes in its multipart upload, then a tail of fewer
// bytes in its own object (S3 parts but the last must be 5 MiB at least, and a PATCH may end
// anywhere). The next append, on any node, reads the tail back and goes on from there. The
// upload's state (blob_store.h) is the size of its parts and the multipart upload's id; how many
// parts and how long a tail follow from the offset. Bytes of an append whose state was never
// recorded (a crash) are parts past the recorded count, which Commit leaves out, and a tail of an
// offset no session holds.
//
// Commit assembles the upload into uploads/<id>/data, then copies it to the blob's key: with one
// CopyObject up to S3BlobStoreOptions::max_copy_bytes (S3's limit, 5 GiB), beyond in parts
// (UploadPartCopy) of a multipart upload of the blob's key, which S3 makes an object only when
// it is completed, whole: a commit that fails or is killed half-way leaves no object under the
// blob's key, only the record uploads/<id>/copy, and the same commit sent again copies the parts
// still missing and completes it; RemoveUpload aborts it. Uploads hold 10,000 parts of
// kPartBytes at most: blobs of up to 156.25 GiB. radosgw makes the copy share the upload's
// stored bytes, so the blob is read in the parts it was uploaded in.
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

struct S3BlobStoreOptions {
  // The largest object Commit copies to a blob's key with one CopyObject (S3's limit: 5 GiB);
  // larger ones are copied in parts. 5 MiB at least (S3's smallest part).
  uint64_t max_copy_bytes = 5ull << 30;
  // The size of the parts of such a copy but the last, at most max_copy_bytes (and more when a
  // blob would need over 10,000 parts); each is one request that the store answers when it has
  // copied the part (radosgw reads and writes the bytes). 5 MiB at least.
  uint64_t copy_part_bytes = 1ull << 30;
  // Parts of one copy copied at once.
  int copy_parallelism = 4;
};

class S3BlobStore final : public BlobStore {
 public:
  // The size of every part but the last of an upload begun now; also the most a tail holds.
  // radosgw reads an object of 8 MiB parts at half the rate of one of 16 MiB parts or more
  // (bench/s3_bench.sh, BENCH_PART_MIB): a blob keeps its upload's parts. An upload being
  // received holds up to three parts in memory.
  static constexpr uint64_t kPartBytes = 16 << 20;
  // The parts of uploads begun by kura before the part size was recorded in the upload's state.
  static constexpr uint64_t kLegacyPartBytes = 8 << 20;
  // S3's smallest part but the last, and largest.
  static constexpr uint64_t kMinPartBytes = 5 << 20;
  static constexpr uint64_t kMaxPartBytes = 5ull << 30;
  // The largest blob: an upload holds 10,000 parts at most (S3's limit).
  static constexpr uint64_t kMaxBlobBytes = kPartBytes * 10000;

  // Creates the bucket if it is missing. Throws StoreUnavailable or StoreError when the store
  // does not answer or refuses, std::invalid_argument for options out of their bounds.
  explicit S3BlobStore(S3Config config, S3BlobStoreOptions options = {});
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
  // kMaxBlobBytes, and as the BlobStore contract says when the store fails; nothing is stored
  // then. `progress`, when given, is called from the calling thread with the count of bytes
  // read so far, after each part.
  core::Digest PutBlobFromFile(const core::Digest& digest, int fd, uint64_t size,
                               const std::function<void(uint64_t)>& progress = {});

  // The object key of blob `digest`, relative to the configured prefix.
  static std::string BlobKey(const core::Digest& digest);

  S3Client& client() { return client_; }
  const S3BlobStoreOptions& options() const { return options_; }

 private:
  // Copies `from` (`size` bytes, of ETag `etag`) to `to`, for upload `id`'s commit.
  void CopyToBlob(const std::string& id, const std::string& from, const std::string& etag,
                  uint64_t size, const std::string& to);
  void CopyInParts(const std::string& id, const std::string& from, const std::string& etag,
                   uint64_t size, const std::string& to);

  S3Client client_;
  const S3BlobStoreOptions options_;
};

}  // namespace kura::store
