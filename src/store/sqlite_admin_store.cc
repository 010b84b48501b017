#include "store/sqlite_admin_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <tuple>

#include "store/instance_keys.h"
#include "store/meta_store.h"

namespace kura::store {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS exposure_world(
  id INTEGER PRIMARY KEY CHECK (id = 1), document TEXT NOT NULL,
  revision INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS world_rows(
  kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT, revision INTEGER NOT NULL,
  PRIMARY KEY(kind, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS world_rows_by_revision ON world_rows(revision);
CREATE TABLE IF NOT EXISTS world_state(
  id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL,
  removals_kept_after INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS credentials(
  instance TEXT NOT NULL, user TEXT NOT NULL, hash TEXT NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY(instance, user, hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS namespaces(
  instance TEXT NOT NULL, name TEXT NOT NULL, is_public INTEGER NOT NULL,
  PRIMARY KEY(instance, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS secrets(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS login_failures(
  key TEXT PRIMARY KEY, failures INTEGER NOT NULL, window_end INTEGER NOT NULL) WITHOUT ROWID;
)sql";

constexpr const char* kAnyKeyedRow =
    "SELECT 1 FROM credentials UNION ALL SELECT 1 FROM namespaces LIMIT 1";
constexpr std::string_view kFormatName = "admin";

}  // namespace

SqliteAdminStore::SqliteAdminStore(std::string path) : db_(std::move(path), kSchema) {
  // A database of an earlier version lacks the World's revision: its saved World (if any) is
  // revision 1, as if saved once.
  Statement column(db_.Connection(),
                   "SELECT 1 FROM pragma_table_info('exposure_world') WHERE name = 'revision'");
  if (!column.Step()) {
    db_.Connection().Exec(
        "ALTER TABLE exposure_world ADD COLUMN revision INTEGER NOT NULL DEFAULT 1");
  }
  instance_keys::EnsureSchema(db_.Connection());
  // A new database is marked as keyed by incarnation before anything is written to it.
  KeyedByInstanceName();
}

bool SqliteAdminStore::KeyedByInstanceName() {
  return instance_keys::KeyedByName(db_.Connection(), kFormatName, kAnyKeyedRow);
}

void SqliteAdminStore::MigrateToIncarnationKeys(
    const std::map<std::string, std::string>& incarnation_of) {
  if (!KeyedByInstanceName()) return;
  constexpr const char* kKeyedTables[] = {"credentials", "namespaces"};
  instance_keys::Rekey(db_.Connection(), kFormatName, kKeyedTables, incarnation_of);
}

std::vector<std::string> SqliteAdminStore::ListInstanceKeys() {
  Statement s(db_.Connection(),
              "SELECT instance FROM credentials UNION SELECT instance FROM namespaces "
              "ORDER BY instance");
  std::vector<std::string> keys;
  while (s.Step()) keys.push_back(s.Text(0));
  return keys;
}

namespace {

// The revision: of the rows once saved, else of the legacy document, else 0.
uint64_t RevisionOf(SqliteConnection& c) {
  Statement rows(c, "SELECT revision FROM world_state WHERE id = 1");
  if (rows.Step()) return static_cast<uint64_t>(rows.Int(0));
  Statement legacy(c, "SELECT revision FROM exposure_world WHERE id = 1");
  return legacy.Step() ? static_cast<uint64_t>(legacy.Int(0)) : 0;
}

void SortRows(std::vector<WorldRow>& rows) {
  std::sort(rows.begin(), rows.end(), [](const WorldRow& a, const WorldRow& b) {
    return std::tie(a.kind, a.key) < std::tie(b.kind, b.key);
  });
}

void ReadRows(Statement& s, std::vector<WorldRow>& rows) {
  while (s.Step()) {
    WorldRow row{s.Text(0), s.Text(1), std::nullopt};
    if (!s.IsNull(2)) row.body = s.Text(2);
    rows.push_back(std::move(row));
  }
}

}  // namespace

WorldRows SqliteAdminStore::ReadWorldRows(const std::vector<std::string_view>& kinds,
                                          const std::function<void(const WorldRow&)>& visit) {
  SqliteConnection& c = db_.Connection();
  c.Exec("BEGIN");
  WorldRows out;
  try {
    Statement state(c, "SELECT revision FROM world_state WHERE id = 1");
    if (state.Step()) {
      out.revision = static_cast<uint64_t>(state.Int(0));
      WorldRow row;
      if (kinds.empty()) {
        Statement s(c,
                    "SELECT kind, key, body FROM world_rows WHERE body IS NOT NULL "
                    "ORDER BY kind, key");
        while (s.Step()) {
          row = {s.Text(0), s.Text(1), s.Text(2)};
          visit(row);
        }
      }
      for (std::string_view kind : kinds) {
        row.kind = kind;
        Statement s(c,
                    "SELECT key, body FROM world_rows WHERE kind = ? AND body IS NOT NULL "
                    "ORDER BY key");
        s.Bind(kind);
        while (s.Step()) {
          row.key = s.Text(0);
          row.body = s.Text(1);
          visit(row);
        }
      }
    } else {
      Statement legacy(c, "SELECT document, revision FROM exposure_world WHERE id = 1");
      if (legacy.Step()) {
        out.legacy_document = legacy.Text(0);
        out.revision = static_cast<uint64_t>(legacy.Int(1));
      }
    }
  } catch (...) {
    sqlite3_exec(c.db(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  c.Exec("COMMIT");
  return out;
}

WorldRows SqliteAdminStore::LoadWorldChanges(uint64_t revision) {
  SqliteConnection& c = db_.Connection();
  c.Exec("BEGIN");
  WorldRows out;
  try {
    Statement state(c, "SELECT revision, removals_kept_after FROM world_state WHERE id = 1");
    if (!state.Step()) {
      out.revision = RevisionOf(c);
      out.complete = out.revision == revision;
    } else {
      out.revision = static_cast<uint64_t>(state.Int(0));
      out.complete = revision >= static_cast<uint64_t>(state.Int(1)) && revision <= out.revision;
      if (out.complete) {
        // By the revision index; sorted here (ORDER BY kind, key would walk the whole table).
        Statement s(c, "SELECT kind, key, body FROM world_rows WHERE revision > ?");
        s.Bind(static_cast<int64_t>(revision));
        ReadRows(s, out.rows);
        SortRows(out.rows);
      }
    }
  } catch (...) {
    sqlite3_exec(c.db(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  c.Exec("COMMIT");
  return out;
}

bool SqliteAdminStore::SaveWorldChanges(const std::vector<WorldRow>& changes,
                                        uint64_t expected_revision) {
  SqliteConnection& c = db_.Connection();
  Transaction tx(c);
  if (RevisionOf(c) != expected_revision) return false;
  const auto revision = static_cast<int64_t>(expected_revision + 1);
  {
    Statement first(c, "SELECT 1 FROM world_state WHERE id = 1");
    if (!first.Step()) {
      // The first save of rows: a legacy document (converted into `changes` by the caller) is
      // replaced by them, and removals are known from here on.
      Statement(c, "DELETE FROM exposure_world").Run();
      Statement(c, "INSERT INTO world_state(id, revision, removals_kept_after) VALUES(1, ?, ?)")
          .Bind(revision)
          .Bind(static_cast<int64_t>(expected_revision))
          .Run();
    }
  }
  for (const WorldRow& row : changes) {
    if (row.kind.empty() || row.key.empty()) throw StoreError("a World row needs a kind and a key");
    Statement s(c,
                "INSERT INTO world_rows(kind, key, body, revision) VALUES(?, ?, ?, ?) "
                "ON CONFLICT(kind, key) DO UPDATE SET body = excluded.body, "
                "revision = excluded.revision");
    if (row.body && row.body->empty()) throw StoreError("a World row's body may not be empty");
    s.Bind(row.kind).Bind(row.key).BindNullable(row.body ? *row.body : "").Bind(revision).Run();
  }
  // Tombstones too old to be asked for: a node that far behind loads every row.
  const int64_t kept_after =
      std::max<int64_t>(0, revision - static_cast<int64_t>(kWorldChangesKept));
  Statement(c, "DELETE FROM world_rows WHERE revision <= ? AND body IS NULL")
      .Bind(kept_after)
      .Run();
  Statement(c,
            "UPDATE world_state SET revision = ?, "
            "removals_kept_after = max(removals_kept_after, ?) WHERE id = 1")
      .Bind(revision)
      .Bind(kept_after)
      .Run();
  tx.Commit();
  return true;
}

AdminStore::LoginFailures SqliteAdminStore::RecordLoginFailure(std::string_view key,
                                                               int64_t window_seconds) {
  SqliteConnection& c = db_.Connection();
  Transaction tx(c);
  Statement(c, "DELETE FROM login_failures WHERE window_end <= unixepoch() AND key <> ?")
      .Bind(key)
      .Run();
  LoginFailures out;
  {
    Statement s(c,
                "INSERT INTO login_failures(key, failures, window_end) VALUES(?, 1, "
                "unixepoch() + ?) ON CONFLICT(key) DO UPDATE SET "
                "failures = CASE WHEN window_end <= unixepoch() THEN 1 ELSE failures + 1 END, "
                "window_end = CASE WHEN window_end <= unixepoch() THEN excluded.window_end "
                "ELSE window_end END "
                "RETURNING failures, window_end - unixepoch()");
    s.Bind(key).Bind(window_seconds);
    if (s.Step()) out = {static_cast<int>(s.Int(0)), s.Int(1)};
    while (s.Step()) {
    }
  }
  tx.Commit();
  return out;
}

AdminStore::LoginFailures SqliteAdminStore::FindLoginFailures(std::string_view key) {
  Statement s(db_.Connection(),
              "SELECT failures, window_end - unixepoch() FROM login_failures "
              "WHERE key = ? AND window_end > unixepoch()");
  if (!s.Bind(key).Step()) return {};
  return {static_cast<int>(s.Int(0)), s.Int(1)};
}

void SqliteAdminStore::ClearLoginFailures(std::string_view key) {
  Statement(db_.Connection(), "DELETE FROM login_failures WHERE key = ?").Bind(key).Run();
}

uint64_t SqliteAdminStore::WorldRevision() {
  return RevisionOf(db_.Connection());
}

void SqliteAdminStore::SetPassword(std::string_view instance, std::string_view user,
                                   std::string_view hash) {
  SqliteConnection& c = db_.Connection();
  Transaction tx(c);
  instance_keys::RefuseIfDeleted(c, instance);
  Statement(c, "DELETE FROM credentials WHERE instance = ? AND user = ? AND expires_at = 0")
      .Bind(instance)
      .Bind(user)
      .Run();
  Statement(c, "INSERT INTO credentials(instance, user, hash, expires_at) VALUES(?, ?, ?, 0)")
      .Bind(instance)
      .Bind(user)
      .Bind(hash)
      .Run();
  tx.Commit();
}

void SqliteAdminStore::AddTemporaryPassword(std::string_view instance, std::string_view user,
                                            std::string_view hash, int64_t expires_at,
                                            int64_t now) {
  SqliteConnection& c = db_.Connection();
  Transaction tx(c);
  instance_keys::RefuseIfDeleted(c, instance);
  Statement(c, "DELETE FROM credentials WHERE expires_at != 0 AND expires_at <= ?").Bind(now).Run();
  Statement(c, "INSERT INTO credentials(instance, user, hash, expires_at) VALUES(?, ?, ?, ?)")
      .Bind(instance)
      .Bind(user)
      .Bind(hash)
      .Bind(expires_at)
      .Run();
  tx.Commit();
}

std::vector<StoredCredential> SqliteAdminStore::FindCredentials(std::string_view instance,
                                                                std::string_view user,
                                                                int64_t now) {
  Statement s(db_.Connection(),
              "SELECT hash, expires_at FROM credentials WHERE instance = ? AND user = ? "
              "AND (expires_at = 0 OR expires_at > ?) ORDER BY expires_at");
  s.Bind(instance).Bind(user).Bind(now);
  std::vector<StoredCredential> out;
  while (s.Step()) out.push_back({std::string(user), s.Text(0), s.Int(1)});
  return out;
}

std::vector<std::string> SqliteAdminStore::ListUsers(std::string_view instance) {
  Statement s(db_.Connection(),
              "SELECT user FROM credentials WHERE instance = ? AND expires_at = 0 ORDER BY user");
  s.Bind(instance);
  std::vector<std::string> out;
  while (s.Step()) out.push_back(s.Text(0));
  return out;
}

void SqliteAdminStore::DeleteInstanceState(std::string_view instance) {
  SqliteConnection& c = db_.Connection();
  Transaction tx(c);
  instance_keys::Retire(c, instance);
  Statement(c, "DELETE FROM credentials WHERE instance = ?").Bind(instance).Run();
  Statement(c, "DELETE FROM namespaces WHERE instance = ?").Bind(instance).Run();
  tx.Commit();
}

void SqliteAdminStore::PutNamespace(std::string_view instance, const StoredNamespace& ns) {
  SqliteConnection& c = db_.Connection();
  Transaction tx(c);
  instance_keys::RefuseIfDeleted(c, instance);
  Statement(c, "INSERT OR REPLACE INTO namespaces(instance, name, is_public) VALUES(?, ?, ?)")
      .Bind(instance)
      .Bind(ns.name)
      .Bind(int64_t{ns.is_public})
      .Run();
  tx.Commit();
}

std::optional<StoredNamespace> SqliteAdminStore::FindNamespace(std::string_view instance,
                                                               std::string_view name) {
  Statement s(db_.Connection(), "SELECT is_public FROM namespaces WHERE instance = ? AND name = ?");
  if (!s.Bind(instance).Bind(name).Step()) return std::nullopt;
  return StoredNamespace{std::string(name), s.Int(0) != 0};
}

std::vector<StoredNamespace> SqliteAdminStore::ListNamespaces(std::string_view instance) {
  Statement s(db_.Connection(),
              "SELECT name, is_public FROM namespaces WHERE instance = ? ORDER BY name");
  s.Bind(instance);
  std::vector<StoredNamespace> out;
  while (s.Step()) out.push_back({s.Text(0), s.Int(1) != 0});
  return out;
}

std::string SqliteAdminStore::Secret(std::string_view name,
                                     const std::function<std::string()>& make) {
  SqliteConnection& c = db_.Connection();
  {
    Statement s(c, "SELECT value FROM secrets WHERE name = ?");
    if (s.Bind(name).Step()) return s.Text(0);
  }
  const std::string made = make();
  // Stored unless another caller stored one first: every caller then gets the stored one.
  Statement(c, "INSERT OR IGNORE INTO secrets(name, value) VALUES(?, ?)")
      .Bind(name)
      .Bind(made)
      .Run();
  Statement s(c, "SELECT value FROM secrets WHERE name = ?");
  if (!s.Bind(name).Step()) throw StoreError("secret " + std::string(name) + " vanished");
  return s.Text(0);
}

}  // namespace kura::store
