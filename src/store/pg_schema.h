// The PostgreSQL stores' schema: ordered migrations, each applied once and recorded in table
// schema_version(version, description, applied_at).
//
// Applied by `kura db migrate --database URL` (or by PgDatabase::Open with
// PgOptions::apply_migrations): all pending migrations in one transaction, under an advisory lock
// so that two nodes migrating at once apply each migration once. A store refuses a database whose
// schema is older than its own (until migrated) or newer (a later kura migrated it).
//
// Every table lives in the connection's search_path (the schema `public` unless the URL says
// otherwise, e.g. options=-csearch_path=kura). Text columns use the "C" collation: tags and
// repositories list in byte order, as on SQLite and as the distribution spec asks.
#pragma once

#include "store/pg_db.h"

namespace kura::store::pg_schema {

// The version this kura's stores need: that of its last migration.
int LatestVersion();

// The version recorded in the database: 0 when kura never migrated it.
int CurrentVersion(PgDatabase& db);

struct MigrationResult {
  int from = 0;  // the version found
  int to = 0;    // the version left (from when there was nothing to do)
};

// Applies every migration after the database's version, up to `target` (0: the latest), in one
// transaction. Throws StoreError for a database newer than this kura, StoreUnavailable when it
// cannot be reached; a failed migration leaves the database as it was.
MigrationResult Migrate(PgDatabase& db, int target = 0);

// Throws StoreError unless the database is at LatestVersion(), saying what to do.
void RequireLatest(PgDatabase& db);

}  // namespace kura::store::pg_schema
