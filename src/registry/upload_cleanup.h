// Upload bytes that nothing will finish: sessions idle for too long, and bytes that no session
// owns (a monolithic push cut by a crash, a session deleted with its instance). Every node of a
// cluster runs this; none removes what another may still be writing.
#pragma once

#include <cstdint>

#include "store/blob_store.h"
#include "store/meta_store.h"

namespace kura::registry {

// Deletes the upload sessions untouched (and unleased) for `idle_seconds`, with their bytes.
// Returns how many.
int ExpireIdleUploads(store::MetaStore& meta, store::BlobStore& blobs, int64_t idle_seconds);

// Removes the bytes of uploads that have no session and were last written at least
// `idle_seconds` ago. 0 is safe only when no other process writes to `blobs` and no request is
// running (a node-local store at start-up); a shared store needs more than any request may take.
// Returns how many.
int RemoveOrphanUploads(store::MetaStore& meta, store::BlobStore& blobs, int64_t idle_seconds);

}  // namespace kura::registry
