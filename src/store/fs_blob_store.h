// BlobStore on a local filesystem: <root>/blobs/sha256/<2 hex>/<hex>, uploads in
// <root>/uploads/<id>. An upload's file holds its bytes; its state is always empty.
#pragma once

#include <functional>
#include <string>

#include "store/blob_store.h"

namespace kura::store {

class FsBlobStore final : public BlobStore {
 public:
  // Creates the directories under `root` if needed. Throws std::runtime_error if it cannot.
  explicit FsBlobStore(std::string root);

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

  std::string BlobPath(const core::Digest& digest) const;
  std::string UploadPath(const std::string& id) const { return root_ + "/uploads/" + id; }

 private:
  std::string root_;
};

}  // namespace kura::store
