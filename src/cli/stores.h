// The stores a configuration names, opened for `kura serve` and for the commands that work on a
// server's data (`kura fsck`).
#pragma once

#include <memory>

#include "server/config.h"
#include "store/admin_store.h"
#include "store/blob_store.h"
#include "store/meta_store.h"
#include "store/s3_client.h"
#include "store/sqlite_admin_store.h"
#include "store/sqlite_meta_store.h"

namespace kura::cli {

// The S3 client configuration of `config.s3` (which must be set): the configured settings,
// the empty ones filled from the environment (AWS_ACCESS_KEY_ID...). Throws std::runtime_error
// when no access key or secret key is found.
store::S3Config S3ConfigOf(const server::ServerConfig& config);

// The blob store of `config`: S3 when blobs.s3 is set, else files under the data directory.
// Throws std::runtime_error (StoreError) with the reason when it cannot be opened.
std::unique_ptr<store::BlobStore> OpenBlobStore(const server::ServerConfig& config);

// The metadata stores of `config`: PostgreSQL when metadata.postgres is set (its schema must be
// current: `kura db migrate`), else SQLite in data/kura.db. `sqlite` is set for SQLite, whose
// databases may need re-keying at start-up (admin/instance_stores.h).
struct MetadataStores {
  std::unique_ptr<store::MetaStore> meta;
  std::unique_ptr<store::AdminStore> admin;
  store::SqliteMetaStore* sqlite_meta = nullptr;
  store::SqliteAdminStore* sqlite_admin = nullptr;
};
MetadataStores OpenMetadataStores(const server::ServerConfig& config);

}  // namespace kura::cli
