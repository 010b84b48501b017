// `kura migrate`, second step: the rows of an embedded installation's SQLite database (kura.db:
// store/sqlite_meta_store.h, sqlite_admin_store.h, instance_keys.h) copied into the PostgreSQL
// database of a cluster (store/pg_schema.cc), in one transaction: a failure leaves the target's
// metadata as it was.
//
// What is copied, and what is kept when the target has a row of that key already:
//   deleted_instances, repositories, repository_blobs, manifests, tags, namespaces: every row;
//     the target's row is kept (INSERT ... ON CONFLICT DO NOTHING). Rows of an instance key the
//     target has retired are not copied (that instance was deleted on the cluster), and a
//     repository_blobs row only when the target holds its blob.
//   credentials: permanent passwords when the target has none for that user (a password changed
//     on the cluster stays changed), temporary ones unless expired.
//   the exposure World: its rows (admin/world_rows.h; a World saved as one document by an
//     earlier kura is read as rows) copied with its revision when the target has none, so that
//     nodes already running on the target see the revision move and load it; the same rows are
//     left as they are; another World is refused (CheckWorldsAgree): two cannot be merged.
//   secrets (the registry token key, "registry-token-hmac"): they go with the World, so that
//     tokens signed before the migration still verify: when the source has a World, its secrets
//     replace the target's (which a node started on the empty target made, and never signed a
//     token of an instance with); without one, the target's are kept.
//   upload sessions: not copied (their bytes are in the source's files, not in S3); their clients
//     start those uploads again.
//
// The source is opened read-only and read in one snapshot; nothing of it changes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/admin_store.h"
#include "store/pg_db.h"
#include "store/sqlite_db.h"

namespace kura::cli {

// The SQLite database of an embedded installation, read-only.
class MigrationSource {
 public:
  // Opens `path` read-only. Throws StoreError when it is missing or cannot be opened.
  explicit MigrationSource(const std::string& path);
  MigrationSource(const MigrationSource&) = delete;
  MigrationSource& operator=(const MigrationSource&) = delete;

  // True when the registry or the admin rows are keyed by instance name (a database of a kura
  // before incarnation keys, not yet opened by a later `kura serve`, which re-keys it).
  bool KeyedByInstanceName();

  // The saved World and its revision: its rows, or the one document a kura that kept it so
  // saved (not read by a later `kura serve` since); nullopt when none was saved.
  struct World {
    std::vector<store::WorldRow> rows;
    std::optional<std::string> document;
    int64_t revision = 0;
  };
  std::optional<World> SavedWorld();

  // Upload sessions in progress (not migrated).
  int64_t UploadSessions();

  store::SqliteConnection& connection() { return c_; }
  bool HasTable(const char* name);

 private:
  store::SqliteConnection c_;
};

// Throws std::runtime_error, saying why, when the target holds a World other than the source's
// (the migration would lose one of them). Called before anything is copied, and again inside the
// metadata transaction.
// `domain` is the cluster's (server/config.h): a document is read as rows under it.
void CheckWorldsAgree(MigrationSource& source, store::PgDatabase& target,
                      const std::string& domain);

// Rows of one table.
struct TableCopy {
  std::string table;
  int64_t copied = 0;   // dry run: would be copied
  int64_t present = 0;  // the target had a row of that key: kept
  int64_t skipped = 0;  // not copied, for `why_skipped`
  std::string why_skipped;
};

struct MetadataCopyReport {
  std::vector<TableCopy> tables;
  std::string world;               // what became of the World, one phrase
  std::vector<std::string> notes;  // what the operator should know (a secret replaced...)
  // The blobs that repository_blobs rows name and the target lacks (their rows not copied).
  std::vector<std::string> missing_blobs;
  int64_t upload_sessions = 0;  // in the source, not migrated
};

struct MetadataCopyOptions {
  bool dry_run = false;  // everything is done, then rolled back
  // Whether the target's blob store holds the blob `digest`.
  std::function<bool(const std::string& digest)> blob_in_target;
  int64_t now = 0;  // seconds since the epoch: temporary passwords expired by then are dropped
  std::string domain = "kura.test";  // the cluster's: a World document is read under it
};

// Copies the source's rows into the target in one transaction. Throws StoreError (or
// std::runtime_error: CheckWorldsAgree) and then leaves the target's metadata as it was.
MetadataCopyReport CopyMetadata(MigrationSource& source, store::PgDatabase& target,
                                const MetadataCopyOptions& options);

}  // namespace kura::cli
