#include "store/pg_schema.h"

#include <iterator>
#include <string>

namespace kura::store::pg_schema {
namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// In order; a migration once released is never edited, a change is a new one.
constexpr Migration kMigrations[] = {
    {1, "registry metadata and admin state", R"sql(
-- Bytes a client chose and kura keeps as they came (manifest bodies, artifact types, which JSON
-- may give a NUL, upload state) are bytea: text refuses NUL and invalid UTF-8.
-- Seconds since the epoch on the database's clock: the one clock of every node (leases, expiry).
CREATE FUNCTION kura_unixepoch() RETURNS bigint LANGUAGE sql STABLE
  AS $$ SELECT floor(extract(epoch FROM statement_timestamp()))::bigint $$;

CREATE TABLE repositories(
  instance text COLLATE "C" NOT NULL, name text COLLATE "C" NOT NULL,
  PRIMARY KEY(instance, name));
CREATE TABLE repository_blobs(
  instance text COLLATE "C" NOT NULL, repo text COLLATE "C" NOT NULL,
  digest text COLLATE "C" NOT NULL, size bigint NOT NULL,
  PRIMARY KEY(instance, repo, digest));
CREATE TABLE manifests(
  instance text COLLATE "C" NOT NULL, repo text COLLATE "C" NOT NULL,
  digest text COLLATE "C" NOT NULL, media_type text NOT NULL, body bytea NOT NULL,
  subject text COLLATE "C", artifact_type bytea NOT NULL, annotations bytea NOT NULL,
  PRIMARY KEY(instance, repo, digest));
CREATE INDEX manifests_by_subject ON manifests(instance, repo, subject)
  WHERE subject IS NOT NULL;
CREATE TABLE tags(
  instance text COLLATE "C" NOT NULL, repo text COLLATE "C" NOT NULL,
  tag text COLLATE "C" NOT NULL, digest text COLLATE "C" NOT NULL,
  PRIMARY KEY(instance, repo, tag));
CREATE INDEX tags_by_digest ON tags(instance, repo, digest);
CREATE TABLE uploads(
  id text COLLATE "C" PRIMARY KEY, instance text COLLATE "C" NOT NULL,
  repo text COLLATE "C" NOT NULL, byte_offset bigint NOT NULL,
  state bytea NOT NULL DEFAULT '' CHECK (length(state) <= 65536),
  touched_at bigint NOT NULL, lease_holder text COLLATE "C",
  lease_until bigint NOT NULL DEFAULT 0);
CREATE INDEX uploads_by_instance ON uploads(instance);

-- Instance keys retired for good (meta_store.h): shared by the registry and the admin side.
CREATE TABLE deleted_instances(instance text COLLATE "C" PRIMARY KEY);

CREATE TABLE exposure_world(
  id integer PRIMARY KEY CHECK (id = 1), document text NOT NULL, revision bigint NOT NULL);
CREATE TABLE credentials(
  instance text COLLATE "C" NOT NULL, user_name text COLLATE "C" NOT NULL,
  hash text COLLATE "C" NOT NULL, expires_at bigint NOT NULL,
  PRIMARY KEY(instance, user_name, hash));
CREATE TABLE namespaces(
  instance text COLLATE "C" NOT NULL, name text COLLATE "C" NOT NULL,
  is_public boolean NOT NULL, PRIMARY KEY(instance, name));
CREATE TABLE secrets(name text COLLATE "C" PRIMARY KEY, value text NOT NULL);
)sql"},
    {2, "index of upload sessions by idle time", R"sql(
-- ExpireUploads looks for sessions untouched for a day among every node's sessions.
CREATE INDEX uploads_by_touched_at ON uploads(touched_at);
)sql"},
    {3, "failed logins counted across nodes", R"sql(
CREATE TABLE login_failures(
  key text COLLATE "C" PRIMARY KEY, failures integer NOT NULL, window_end bigint NOT NULL);
)sql"},
    {4, "the exposure World row by row", R"sql(
-- One row per thing of the World (admin/world_rows.h); a removed one keeps its row without a
-- body for a while, so that a node can read just what changed since its revision.
CREATE TABLE world_rows(
  kind text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, body text,
  revision bigint NOT NULL, PRIMARY KEY(kind, key));
CREATE INDEX world_rows_by_revision ON world_rows(revision);
CREATE TABLE world_state(
  id integer PRIMARY KEY CHECK (id = 1), revision bigint NOT NULL,
  removals_kept_after bigint NOT NULL);
)sql"},
};

// Migrations run one node at a time (pg_advisory_xact_lock; instance keys use the two-key form,
// which never conflicts with this one).
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7022365231355834625)";

constexpr const char* kVersionTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_version(
  version integer PRIMARY KEY, description text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()))sql";

int RecordedVersion(PgConnection& c) {
  PgResult table = PgQuery(c, "SELECT to_regclass('schema_version') IS NOT NULL").Run();
  if (table.Int(0, 0) == 0) return 0;
  return static_cast<int>(
      PgQuery(c, "SELECT coalesce(max(version), 0) FROM schema_version").Run().Int(0, 0));
}

std::string NewerMessage(int found) {
  return "the PostgreSQL database's schema is at version " + std::to_string(found) +
         ", newer than this kura's (" + std::to_string(LatestVersion()) +
         "): a later kura migrated it; run that kura";
}

}  // namespace

int LatestVersion() {
  return std::end(kMigrations)[-1].version;
}

int CurrentVersion(PgDatabase& db) {
  return db.Read([](PgConnection& c) { return RecordedVersion(c); });
}

MigrationResult Migrate(PgDatabase& db, int target) {
  if (target <= 0 || target > LatestVersion()) target = LatestVersion();
  return db.Transact([&](PgConnection& c) {
    c.Exec(kMigrationLock);
    c.Exec(kVersionTable);
    MigrationResult result;
    result.from = result.to = RecordedVersion(c);
    if (result.from > LatestVersion()) throw StoreError(NewerMessage(result.from));
    for (const Migration& m : kMigrations) {
      if (m.version <= result.from || m.version > target) continue;
      try {
        c.Exec(m.sql);
      } catch (const StoreUnavailable&) {
        throw;
      } catch (const StoreError& e) {
        throw StoreError("migration " + std::to_string(m.version) + " (" + m.description +
                         ") failed: " + e.what());
      }
      PgQuery(c, "INSERT INTO schema_version(version, description) VALUES($1, $2)")
          .Bind(int64_t{m.version})
          .Bind(m.description)
          .Run();
      result.to = m.version;
    }
    return result;
  });
}

void RequireLatest(PgDatabase& db) {
  const int found = CurrentVersion(db);
  if (found == LatestVersion()) return;
  if (found > LatestVersion()) throw StoreError(NewerMessage(found));
  throw StoreError("the PostgreSQL database's schema is at version " + std::to_string(found) +
                   ", this kura needs version " + std::to_string(LatestVersion()) +
                   ": run `kura db migrate --database URL` first");
}

}  // namespace kura::store::pg_schema
