// BlobStore on a local filesystem: <root>/blobs/sha256/<2 hex>/<hex>, uploads in <root>/uploads.
#pragma once

#include <functional>
#include <string>

#include "store/blob_store.h"

namespace kura::store {

class FsBlobStore final : public BlobStore {
 public:
  // Creates the directories under `root` if needed. Throws std::runtime_error if it cannot.
  explicit FsBlobStore(std::string root);

  std::optional<BlobFile> Open(const core::Digest& digest) override;
  FileHandle OpenUpload(const std::string& id, uint64_t offset) override;
  FileHandle ReadUpload(const std::string& id) override;
  bool CommitUpload(const std::string& id, const core::Digest& digest) override;
  void RemoveUpload(const std::string& id) override;
  void Remove(const core::Digest& digest) override;

  // Removes upload files for which `is_live(id)` is false: leftovers of monolithic uploads and
  // sessions cut by a crash. Returns how many were removed. Call at start-up.
  int RemoveStaleUploads(const std::function<bool(const std::string&)>& is_live);

  std::string BlobPath(const core::Digest& digest) const;

 private:
  std::string UploadPath(const std::string& id) const { return root_ + "/uploads/" + id; }
  std::string root_;
};

}  // namespace kura::store
