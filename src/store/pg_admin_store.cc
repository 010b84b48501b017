#include "store/pg_admin_store.h"

#include <algorithm>

#include "store/pg_instance_keys.h"

namespace kura::store {

PgAdminStore::PgAdminStore(std::shared_ptr<PgDatabase> db) : db_(std::move(db)) {}

namespace {

// The revision: of the rows once saved, else of the legacy document, else 0.
uint64_t RevisionOf(PgConnection& c) {
  PgResult r = PgQuery(c,
                       "SELECT coalesce((SELECT revision FROM world_state WHERE id = 1), "
                       "(SELECT revision FROM exposure_world WHERE id = 1), 0)")
                   .Run();
  return static_cast<uint64_t>(r.Int(0, 0));
}

constexpr size_t kRowsPerStatement = 20000;

std::vector<std::string> Slice(const std::vector<std::string>& all, size_t at) {
  return {all.begin() + static_cast<std::ptrdiff_t>(at),
          all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), at + kRowsPerStatement))};
}

void ReadRows(const PgResult& r, std::vector<WorldRow>& rows) {
  rows.reserve(rows.size() + static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    WorldRow row{r.Text(i, 0), r.Text(i, 1), std::nullopt};
    if (!r.IsNull(i, 2)) row.body = r.Text(i, 2);
    rows.push_back(std::move(row));
  }
}

// `text` as an SQL string constant, for a statement that takes no parameters (COPY). The E''
// form reads backslashes as escapes whatever standard_conforming_strings says.
std::string Literal(std::string_view text) {
  std::string out = "E'";
  for (char ch : text) {
    if (ch == '\0') throw StoreError("postgres: text with a NUL byte");
    if (ch == '\'' || ch == '\\') out += ch;
    out += ch;
  }
  return out + "'";
}

}  // namespace

WorldRows PgAdminStore::ReadWorldRows(const std::vector<std::string_view>& kinds,
                                      const std::function<void(const WorldRow&)>& visit) {
  // One transaction: the rows and the revision are of one snapshot (the state row's share lock
  // keeps a save, which updates it first, from writing rows meanwhile).
  return db_->Transact([&](PgConnection& c) -> WorldRows {
    WorldRows out;
    PgResult state = PgQuery(c, "SELECT revision FROM world_state WHERE id = 1 FOR SHARE").Run();
    if (state.rows() > 0) {
      out.revision = static_cast<uint64_t>(state.Int(0, 0));
      // The rows come by COPY, which streams them: a result of a million rows would be read
      // whole before the first reached `visit`. In the primary key's order, never sorted: on a
      // table not analyzed yet (just filled) the planner expects a few thousand rows and sorts
      // a bitmap scan of the million, on disk, before sending the first.
      c.Exec("SET LOCAL enable_sort = off");
      WorldRow row;
      row.body.emplace();
      auto text = [](std::optional<std::string_view> field) {
        if (!field) throw StoreError("postgres: a World row with a NULL field");
        return *field;
      };
      if (kinds.empty()) {
        c.CopyOut(
            "COPY (SELECT kind, key, body FROM world_rows WHERE body IS NOT NULL "
            "ORDER BY kind, key) TO STDOUT (FORMAT binary)",
            [&](PgConnection::CopyRow fields) {
              if (fields.size() != 3) throw StoreError("postgres: a World row of another shape");
              row.kind.assign(text(fields[0]));
              row.key.assign(text(fields[1]));
              row.body->assign(text(fields[2]));
              visit(row);
            });
      }
      for (std::string_view kind : kinds) {
        row.kind = kind;
        c.CopyOut("COPY (SELECT key, body FROM world_rows WHERE kind = " + Literal(kind) +
                      " AND body IS NOT NULL ORDER BY key) TO STDOUT (FORMAT binary)",
                  [&](PgConnection::CopyRow fields) {
                    if (fields.size() != 2) {
                      throw StoreError("postgres: a World row of another shape");
                    }
                    row.key.assign(text(fields[0]));
                    row.body->assign(text(fields[1]));
                    visit(row);
                  });
      }
      return out;
    }
    PgResult legacy =
        PgQuery(c, "SELECT document, revision FROM exposure_world WHERE id = 1 FOR SHARE").Run();
    if (legacy.rows() > 0) {
      out.legacy_document = legacy.Text(0, 0);
      out.revision = static_cast<uint64_t>(legacy.Int(0, 1));
    }
    return out;
  });
}

WorldRows PgAdminStore::LoadWorldChanges(uint64_t revision) {
  return db_->Transact([&](PgConnection& c) -> WorldRows {
    WorldRows out;
    PgResult state =
        PgQuery(c, "SELECT revision, removals_kept_after FROM world_state WHERE id = 1 FOR SHARE")
            .Run();
    if (state.rows() == 0) {
      out.revision = RevisionOf(c);
      out.complete = out.revision == revision;
      return out;
    }
    out.revision = static_cast<uint64_t>(state.Int(0, 0));
    out.complete = revision >= static_cast<uint64_t>(state.Int(0, 1)) && revision <= out.revision;
    if (out.complete && revision < out.revision) {
      ReadRows(PgQuery(c,
                       "SELECT kind, key, body FROM world_rows WHERE revision > $1 "
                       "ORDER BY kind, key")
                   .Bind(static_cast<int64_t>(revision))
                   .Run(),
               out.rows);  // few rows: sorted after the index on revision found them
    }
    return out;
  });
}

bool PgAdminStore::SaveWorldChanges(const std::vector<WorldRow>& changes,
                                    uint64_t expected_revision) {
  std::vector<std::string> kinds, keys, bodies, removed_kinds, removed_keys;
  for (const WorldRow& row : changes) {
    if (row.kind.empty() || row.key.empty()) throw StoreError("a World row needs a kind and a key");
    if (row.body) {
      if (row.body->empty()) throw StoreError("a World row's body may not be empty");
      kinds.push_back(row.kind);
      keys.push_back(row.key);
      bodies.push_back(*row.body);
    } else {
      removed_kinds.push_back(row.kind);
      removed_keys.push_back(row.key);
    }
  }
  return db_->Transact([&](PgConnection& c) -> bool {
    // Saves take turns on the state row (or, before the first save of rows, on the legacy
    // document's row, or on the lock below): the second sees the first's revision.
    c.Exec("SELECT pg_advisory_xact_lock(7022365231355834626)");
    if (RevisionOf(c) != expected_revision) return false;
    const auto revision = static_cast<int64_t>(expected_revision + 1);
    const int64_t kept_after =
        std::max<int64_t>(0, revision - static_cast<int64_t>(kWorldChangesKept));
    PgResult state = PgQuery(c,
                             "UPDATE world_state SET revision = $1, removals_kept_after = "
                             "greatest(removals_kept_after, $2) WHERE id = 1")
                         .Bind(revision)
                         .Bind(kept_after)
                         .Run();
    if (state.Affected() == 0) {
      // The first save of rows replaces a legacy document; removals are known from here on.
      PgQuery(c, "DELETE FROM exposure_world").Run();
      PgQuery(c, "INSERT INTO world_state(id, revision, removals_kept_after) VALUES(1, $1, $2)")
          .Bind(revision)
          .Bind(static_cast<int64_t>(expected_revision))
          .Run();
    }
    // In slices: a World saved whole (a million rows for 100,000 instances) stays one
    // transaction of statements that each end well within the statement timeout.
    for (size_t at = 0; at < kinds.size(); at += kRowsPerStatement) {
      PgQuery(c,
              "INSERT INTO world_rows(kind, key, body, revision) "
              "SELECT k, n, b, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(k, n, b) "
              "ON CONFLICT (kind, key) DO UPDATE SET body = EXCLUDED.body, "
              "revision = EXCLUDED.revision")
          .BindTextArray(Slice(kinds, at))
          .BindTextArray(Slice(keys, at))
          .BindTextArray(Slice(bodies, at))
          .Bind(revision)
          .Run();
    }
    for (size_t at = 0; at < removed_kinds.size(); at += kRowsPerStatement) {
      PgQuery(c,
              "INSERT INTO world_rows(kind, key, body, revision) "
              "SELECT k, n, NULL, $3 FROM unnest($1::text[], $2::text[]) AS t(k, n) "
              "ON CONFLICT (kind, key) DO UPDATE SET body = NULL, revision = EXCLUDED.revision")
          .BindTextArray(Slice(removed_kinds, at))
          .BindTextArray(Slice(removed_keys, at))
          .Bind(revision)
          .Run();
    }
    PgQuery(c, "DELETE FROM world_rows WHERE revision <= $1 AND body IS NULL")
        .Bind(kept_after)
        .Run();
    return true;
  });
}

AdminStore::LoginFailures PgAdminStore::RecordLoginFailure(std::string_view key,
                                                           int64_t window_seconds) {
  return db_->Transact([&](PgConnection& c) -> LoginFailures {
    // Rows of ended windows go as failures come: a flood from many sources stays bounded by
    // what one window holds.
    PgQuery(c, "DELETE FROM login_failures WHERE window_end <= kura_unixepoch() AND key <> $1")
        .Bind(key)
        .Run();
    PgResult r =
        PgQuery(c,
                "INSERT INTO login_failures(key, failures, window_end) "
                "VALUES($1, 1, kura_unixepoch() + $2) "
                "ON CONFLICT (key) DO UPDATE SET "
                "failures = CASE WHEN login_failures.window_end <= kura_unixepoch() THEN 1 "
                "ELSE login_failures.failures + 1 END, "
                "window_end = CASE WHEN login_failures.window_end <= kura_unixepoch() "
                "THEN EXCLUDED.window_end ELSE login_failures.window_end END "
                "RETURNING failures, window_end - kura_unixepoch()")
            .Bind(key)
            .Bind(window_seconds)
            .Run();
    return {static_cast<int>(r.Int(0, 0)), r.Int(0, 1)};
  });
}

AdminStore::LoginFailures PgAdminStore::FindLoginFailures(std::string_view key) {
  return db_->Read([&](PgConnection& c) -> LoginFailures {
    PgResult r = PgQuery(c,
                         "SELECT failures, window_end - kura_unixepoch() FROM login_failures "
                         "WHERE key = $1 AND window_end > kura_unixepoch()")
                     .Bind(key)
                     .Run();
    if (r.rows() == 0) return {};
    return {static_cast<int>(r.Int(0, 0)), r.Int(0, 1)};
  });
}

void PgAdminStore::ClearLoginFailures(std::string_view key) {
  db_->Transact([&](PgConnection& c) {
    PgQuery(c, "DELETE FROM login_failures WHERE key = $1").Bind(key).Run();
  });
}

uint64_t PgAdminStore::WorldRevision() {
  return db_->Read([&](PgConnection& c) -> uint64_t { return RevisionOf(c); });
}

void PgAdminStore::SetPassword(std::string_view instance, std::string_view user,
                               std::string_view hash) {
  db_->Transact([&](PgConnection& c) {
    pg_instance_keys::LockForWrite(c, instance);
    // One permanent password per user: two setting it at once take turns here (the second's
    // DELETE then sees the first's row).
    PgQuery(c, "SELECT pg_advisory_xact_lock(1802859106, hashtext($1 || chr(10) || $2))")
        .Bind(instance)
        .Bind(user)
        .Run();
    PgQuery(c, "DELETE FROM credentials WHERE instance = $1 AND user_name = $2 AND expires_at = 0")
        .Bind(instance)
        .Bind(user)
        .Run();
    PgQuery(c,
            "INSERT INTO credentials(instance, user_name, hash, expires_at) VALUES($1, $2, $3, 0)")
        .Bind(instance)
        .Bind(user)
        .Bind(hash)
        .Run();
  });
}

void PgAdminStore::AddTemporaryPassword(std::string_view instance, std::string_view user,
                                        std::string_view hash, int64_t expires_at, int64_t now) {
  db_->Transact([&](PgConnection& c) {
    pg_instance_keys::LockForWrite(c, instance);
    PgQuery(c, "DELETE FROM credentials WHERE expires_at != 0 AND expires_at <= $1")
        .Bind(now)
        .Run();
    PgQuery(c,
            "INSERT INTO credentials(instance, user_name, hash, expires_at) "
            "VALUES($1, $2, $3, $4)")
        .Bind(instance)
        .Bind(user)
        .Bind(hash)
        .Bind(expires_at)
        .Run();
  });
}

std::vector<StoredCredential> PgAdminStore::FindCredentials(std::string_view instance,
                                                            std::string_view user, int64_t now) {
  return db_->Read([&](PgConnection& c) {
    PgResult r = PgQuery(c,
                         "SELECT hash, expires_at FROM credentials WHERE instance = $1 AND "
                         "user_name = $2 AND (expires_at = 0 OR expires_at > $3) "
                         "ORDER BY expires_at")
                     .Bind(instance)
                     .Bind(user)
                     .Bind(now)
                     .Run();
    std::vector<StoredCredential> out;
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back({std::string(user), r.Text(i, 0), r.Int(i, 1)});
    }
    return out;
  });
}

std::vector<std::string> PgAdminStore::ListUsers(std::string_view instance) {
  return db_->Read([&](PgConnection& c) {
    PgResult r = PgQuery(c,
                         "SELECT user_name FROM credentials WHERE instance = $1 AND "
                         "expires_at = 0 ORDER BY user_name")
                     .Bind(instance)
                     .Run();
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.Text(i, 0));
    return out;
  });
}

void PgAdminStore::DeleteInstanceState(std::string_view instance) {
  db_->Transact([&](PgConnection& c) {
    pg_instance_keys::Retire(c, instance);
    PgQuery(c, "DELETE FROM credentials WHERE instance = $1").Bind(instance).Run();
    PgQuery(c, "DELETE FROM namespaces WHERE instance = $1").Bind(instance).Run();
  });
}

std::vector<std::string> PgAdminStore::ListInstanceKeys() {
  return db_->Read([&](PgConnection& c) {
    PgResult r = PgQuery(c,
                         "SELECT instance FROM credentials UNION SELECT instance FROM namespaces "
                         "ORDER BY instance")
                     .Run();
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.Text(i, 0));
    return out;
  });
}

void PgAdminStore::PutNamespace(std::string_view instance, const StoredNamespace& ns) {
  db_->Transact([&](PgConnection& c) {
    pg_instance_keys::LockForWrite(c, instance);
    PgQuery(c,
            "INSERT INTO namespaces(instance, name, is_public) VALUES($1, $2, $3) "
            "ON CONFLICT (instance, name) DO UPDATE SET is_public = EXCLUDED.is_public")
        .Bind(instance)
        .Bind(ns.name)
        .BindBool(ns.is_public)
        .Run();
  });
}

std::optional<StoredNamespace> PgAdminStore::FindNamespace(std::string_view instance,
                                                           std::string_view name) {
  return db_->Read([&](PgConnection& c) -> std::optional<StoredNamespace> {
    PgResult r = PgQuery(c, "SELECT is_public FROM namespaces WHERE instance = $1 AND name = $2")
                     .Bind(instance)
                     .Bind(name)
                     .Run();
    if (r.rows() == 0) return std::nullopt;
    return StoredNamespace{std::string(name), r.Int(0, 0) != 0};
  });
}

std::vector<StoredNamespace> PgAdminStore::ListNamespaces(std::string_view instance) {
  return db_->Read([&](PgConnection& c) {
    PgResult r = PgQuery(c,
                         "SELECT name, is_public FROM namespaces WHERE instance = $1 "
                         "ORDER BY name")
                     .Bind(instance)
                     .Run();
    std::vector<StoredNamespace> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back({r.Text(i, 0), r.Int(i, 1) != 0});
    return out;
  });
}

std::string PgAdminStore::Secret(std::string_view name, const std::function<std::string()>& make) {
  std::optional<std::string> found = db_->Read([&](PgConnection& c) -> std::optional<std::string> {
    PgResult r = PgQuery(c, "SELECT value FROM secrets WHERE name = $1").Bind(name).Run();
    if (r.rows() == 0) return std::nullopt;
    return r.Text(0, 0);
  });
  if (found) return *found;
  const std::string made = make();
  return db_->Transact([&](PgConnection& c) {
    // Another node storing it first wins: this INSERT waits for its commit, then does nothing,
    // and the SELECT (a statement of its own, seeing that commit) reads its value.
    PgQuery(c, "INSERT INTO secrets(name, value) VALUES($1, $2) ON CONFLICT DO NOTHING")
        .Bind(name)
        .Bind(made)
        .Run();
    PgResult r = PgQuery(c, "SELECT value FROM secrets WHERE name = $1").Bind(name).Run();
    if (r.rows() == 0) throw StoreError("secret " + std::string(name) + " vanished");
    return r.Text(0, 0);
  });
}

}  // namespace kura::store
