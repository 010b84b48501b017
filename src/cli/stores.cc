#include "cli/stores.h"

#include <stdexcept>

#include "store/fs_blob_store.h"
#include "store/pg_admin_store.h"
#include "store/pg_db.h"
#include "store/pg_meta_store.h"
#include "store/s3_blob_store.h"

namespace kura::cli {

store::S3Config S3ConfigOf(const server::ServerConfig& config) {
  store::S3Config s3;
  s3.endpoint = config.s3->endpoint;
  s3.bucket = config.s3->bucket;
  s3.prefix = config.s3->prefix;
  s3.region = config.s3->region;
  s3.access_key = config.s3->access_key;
  s3.secret_key = config.s3->secret_key;
  s3 = store::S3ConfigFromEnvironment(s3);
  if (s3.access_key.empty() || s3.secret_key.empty()) {
    throw std::runtime_error(
        "blobs.s3 needs access_key and secret_key (or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY)");
  }
  return s3;
}

std::unique_ptr<store::BlobStore> OpenBlobStore(const server::ServerConfig& config) {
  if (!config.s3) return std::make_unique<store::FsBlobStore>(config.data_dir);
  return std::make_unique<store::S3BlobStore>(S3ConfigOf(config));
}

MetadataStores OpenMetadataStores(const server::ServerConfig& config) {
  MetadataStores stores;
  if (!config.postgres.empty()) {
    std::shared_ptr<store::PgDatabase> db = store::PgDatabase::Open(config.postgres);
    stores.meta = std::make_unique<store::PgMetaStore>(db);
    stores.admin = std::make_unique<store::PgAdminStore>(db);
    return stores;
  }
  auto meta = std::make_unique<store::SqliteMetaStore>(config.data_dir + "/kura.db");
  auto admin = std::make_unique<store::SqliteAdminStore>(config.data_dir + "/kura.db");
  stores.sqlite_meta = meta.get();
  stores.sqlite_admin = admin.get();
  stores.meta = std::move(meta);
  stores.admin = std::move(admin);
  return stores;
}

}  // namespace kura::cli
