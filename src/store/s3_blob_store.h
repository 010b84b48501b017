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

#include <memory>
#include <string>

#include "store/blob_store.h"
#include "store/s3_client.h"

namespace kura::store {

class S3BlobStore final : public BlobStore {
 public:
  // The size of every part but the last; also the most a tail holds, and the piece a reader
  // fetches at a time.
  static constexpr uint64_t kPartBytes = 8 << 20;

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

  S3Client& client() { return client_; }

 private:
  S3Client client_;
};

}  // namespace kura::store
