#include "registry/upload_cleanup.h"

#include <string>
#include <unordered_set>
#include <vector>

namespace kura::registry {

int ExpireIdleUploads(store::MetaStore& meta, store::BlobStore& blobs, int64_t idle_seconds) {
  int removed = 0;
  for (const std::string& id : meta.ExpireUploads(idle_seconds)) {
    blobs.RemoveUpload(id, {});
    ++removed;
  }
  return removed;
}

int RemoveOrphanUploads(store::MetaStore& meta, store::BlobStore& blobs, int64_t idle_seconds) {
  // Bytes first, sessions second: an upload that starts between the two reads has a session by
  // the time it is seen, or is too young to be listed.
  std::vector<std::string> stored = blobs.ListUploads(idle_seconds);
  if (stored.empty()) return 0;
  std::vector<std::string> live = meta.ListUploadIds();
  std::unordered_set<std::string> live_ids(live.begin(), live.end());
  int removed = 0;
  for (const std::string& id : stored) {
    if (live_ids.count(id)) continue;
    blobs.RemoveUpload(id, {});
    ++removed;
  }
  return removed;
}

}  // namespace kura::registry
