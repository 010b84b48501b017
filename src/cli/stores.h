// The stores a configuration names, opened for `kura serve` and for the commands that work on a
// server's data (`kura fsck`).
#pragma once

#include <memory>

#include "server/config.h"
#include "store/blob_store.h"

namespace kura::cli {

// The blob store of `config`: S3 when blobs.s3 is set, else files under the data directory.
// Throws std::runtime_error (StoreError) with the reason when it cannot be opened.
std::unique_ptr<store::BlobStore> OpenBlobStore(const server::ServerConfig& config);

}  // namespace kura::cli
