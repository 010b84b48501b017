// The rows `kura fsck` reads (consistency_check.h), from the metadata database of either backend:
// SQLite (data/kura.db) or PostgreSQL. Read-only; every value as text (numbers in decimal,
// manifest bodies and upload states as their bytes).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kura::store {
class PgDatabase;
}

namespace kura::registry {

class MetadataRows {
 public:
  enum class Query {
    kRepositoryInstances,  // instance (distinct), of each table of instance rows:
    kBlobLinkInstances,
    kManifestInstances,
    kTagInstances,
    kUploadInstances,
    kBlobLinks,     // instance, repo, digest, size
    kManifestKeys,  // instance, repo, digest
    kManifests,     // instance, repo, digest, media_type, body
    kTags,          // instance, repo, tag, digest
    kUploads,       // id, instance, repo, offset, state
  };
  using Row = std::vector<std::string>;
  virtual ~MetadataRows() = default;
  // Calls `row` with every row `query` names. Throws StoreError when the database cannot be read.
  virtual void Each(Query query, const std::function<void(const Row&)>& row) = 0;
};

// The SQLite database at `path`, opened read-only.
std::unique_ptr<MetadataRows> SqliteRows(const std::string& path);
// The PostgreSQL database behind `db`.
std::unique_ptr<MetadataRows> PostgresRows(std::shared_ptr<store::PgDatabase> db);

}  // namespace kura::registry
