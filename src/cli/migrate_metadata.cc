#include "cli/migrate_metadata.h"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "admin/world_document.h"
#include "admin/world_rows.h"
#include "store/meta_store.h"
#include "store/pg_instance_keys.h"

namespace kura::cli {
namespace {

using store::PgConnection;
using store::PgQuery;
using store::PgResult;
using store::SqliteConnection;
using store::Statement;

// A read transaction on the source: every table is read in one snapshot.
class SourceSnapshot {
 public:
  explicit SourceSnapshot(SqliteConnection& c) : c_(c) { c_.Exec("BEGIN"); }
  ~SourceSnapshot() { sqlite3_exec(c_.db(), "ROLLBACK", nullptr, nullptr, nullptr); }
  SourceSnapshot(const SourceSnapshot&) = delete;
  SourceSnapshot& operator=(const SourceSnapshot&) = delete;

 private:
  SqliteConnection& c_;
};

// Thrown at the end of a dry run's transaction, to roll it back with what it would have done.
struct DryRunDone {
  MetadataCopyReport report;
};

std::string WorldsDifferMessage(int64_t target_revision) {
  return "the cluster's database holds an exposure World (revision " +
         std::to_string(target_revision) +
         ") other than this installation's: kura migrate moves an installation into a cluster "
         "that has none (or the same, from an earlier run of kura migrate); two Worlds cannot "
         "be merged";
}

// The rows of a saved World: as saved, or read from the document an earlier kura saved.
std::vector<store::WorldRow> RowsOf(const MigrationSource::World& world,
                                    const std::string& domain) {
  if (!world.document) return world.rows;
  return admin::WorldToRows(admin::WorldFromDocument(*world.document, domain));
}

struct TargetWorld {
  std::vector<store::WorldRow> rows;
  int64_t revision = 0;
};

// How the source's World fits the target's: the target has none (or only the account rows a
// node started on it saves of its configuration, none of them unlike the source's), the same
// (every source row there as it is; what else is there are such accounts), or another World.
enum class WorldFit { kNone, kSame, kDiffers };

WorldFit FitOf(const std::vector<store::WorldRow>& source, const std::optional<TargetWorld>& there) {
  if (!there) return WorldFit::kNone;
  std::map<std::pair<std::string, std::string>, const store::WorldRow*> target;
  for (const store::WorldRow& row : there->rows) target[{row.kind, row.key}] = &row;
  bool missing = false;
  for (const store::WorldRow& row : source) {
    auto it = target.find({row.kind, row.key});
    if (it == target.end()) {
      missing = true;
      continue;
    }
    if (it->second->body != row.body) return WorldFit::kDiffers;
    target.erase(it);
  }
  for (const auto& [key, row] : target) {
    if (row->kind != "account") return WorldFit::kDiffers;
  }
  if (!missing) return WorldFit::kSame;
  // Only accounts of its own may be on the target for the source's World to go in beside them.
  for (const store::WorldRow& row : there->rows) {
    if (row.kind != "account") return WorldFit::kDiffers;
  }
  return WorldFit::kNone;
}

// The World the target holds (its rows, or those of its document), or nullopt. `lock`: the
// state is locked against a save by a running node until the transaction ends.
std::optional<TargetWorld> TargetWorldOf(PgConnection& c, const std::string& domain, bool lock) {
  PgResult state =
      lock ? PgQuery(c, "SELECT revision FROM world_state WHERE id = 1 FOR UPDATE").Run()
           : PgQuery(c, "SELECT revision FROM world_state WHERE id = 1").Run();
  if (state.rows() > 0) {
    TargetWorld there{{}, state.Int(0, 0)};
    PgResult r = PgQuery(c,
                         "SELECT kind, key, body FROM world_rows WHERE body IS NOT NULL "
                         "ORDER BY kind, key")
                     .Run();
    for (int i = 0; i < r.rows(); ++i)
      there.rows.push_back({r.Text(i, 0), r.Text(i, 1), r.Text(i, 2)});
    return there;
  }
  PgResult legacy =
      lock ? PgQuery(c, "SELECT document, revision FROM exposure_world WHERE id = 1 FOR UPDATE")
                 .Run()
           : PgQuery(c, "SELECT document, revision FROM exposure_world WHERE id = 1").Run();
  if (legacy.rows() == 0) return std::nullopt;
  return TargetWorld{admin::WorldToRows(admin::WorldFromDocument(legacy.Text(0, 0), domain)),
                     legacy.Int(0, 1)};
}

void Count(TableCopy& table, const PgResult& inserted) {
  if (inserted.Affected() > 0) {
    ++table.copied;
  } else {
    ++table.present;
  }
}

// The instance keys that the source's rows are under and the target has retired (deleted on the
// cluster: their rows must not come back). The other keys are locked for writing (shared) until
// the transaction ends, so that an instance being deleted on the cluster meanwhile waits for it
// and then deletes what it copied.
std::set<std::string> RetiredKeys(MigrationSource& source, PgConnection& c) {
  struct KeyedTable {
    const char* table;
    const char* keys_sql;
  };
  static constexpr KeyedTable kKeyedTables[] = {
      {"repositories", "SELECT DISTINCT instance FROM repositories"},
      {"repository_blobs", "SELECT DISTINCT instance FROM repository_blobs"},
      {"manifests", "SELECT DISTINCT instance FROM manifests"},
      {"tags", "SELECT DISTINCT instance FROM tags"},
      {"credentials", "SELECT DISTINCT instance FROM credentials"},
      {"namespaces", "SELECT DISTINCT instance FROM namespaces"},
  };
  std::set<std::string> keys;
  for (const KeyedTable& t : kKeyedTables) {
    if (!source.HasTable(t.table)) continue;
    Statement s(source.connection(), t.keys_sql);
    while (s.Step()) keys.insert(s.Text(0));
  }
  std::set<std::string> retired;
  for (const std::string& key : keys) {
    try {
      store::pg_instance_keys::LockForWrite(c, key);
    } catch (const store::InstanceGone&) {
      retired.insert(key);
    }
  }
  return retired;
}

class MetadataCopy {
 public:
  MetadataCopy(MigrationSource& source, PgConnection& c, const MetadataCopyOptions& options,
               std::map<std::string, bool>& blob_cache)
      : source_(source), c_(c), options_(options), blob_cache_(blob_cache) {}

  MetadataCopyReport Run() {
    SourceSnapshot snapshot(source_.connection());
    CopyTombstones();
    retired_ = RetiredKeys(source_, c_);
    const bool world_goes = CopyWorld();
    CopySecrets(world_goes);
    CopyRepositories();
    CopyBlobLinks();
    CopyManifests();
    CopyTags();
    CopyCredentials();
    CopyNamespaces();
    report_.upload_sessions = source_.UploadSessions();
    return std::move(report_);
  }

 private:
  TableCopy& Table(const char* name) {
    report_.tables.push_back({name, 0, 0, 0, {}});
    return report_.tables.back();
  }

  // Whether a row under `key` is to be left out, counted as skipped.
  bool Retired(TableCopy& table, const std::string& key) {
    if (!retired_.contains(key)) return false;
    ++table.skipped;
    table.why_skipped = "their instance was deleted on the cluster";
    return true;
  }

  void CopyTombstones() {
    TableCopy& table = Table("deleted_instances");
    if (!source_.HasTable("deleted_instances")) return;
    Statement s(source_.connection(), "SELECT instance FROM deleted_instances");
    while (s.Step()) {
      Count(table,
            PgQuery(c_, "INSERT INTO deleted_instances(instance) VALUES($1) ON CONFLICT DO NOTHING")
                .Bind(s.Text(0))
                .Run());
    }
  }

  // Returns whether the source's World is the target's now (copied, or there already).
  bool CopyWorld() {
    std::optional<MigrationSource::World> world = source_.SavedWorld();
    if (!world) {
      report_.world = "none saved in the source";
      return false;
    }
    const std::vector<store::WorldRow> rows = RowsOf(*world, options_.domain);
    std::optional<TargetWorld> there = TargetWorldOf(c_, options_.domain, true);
    const WorldFit fit = FitOf(rows, there);
    if (fit == WorldFit::kDiffers) throw std::runtime_error(WorldsDifferMessage(there->revision));
    if (fit == WorldFit::kSame) {
      report_.world =
          "the same on the target already (revision " + std::to_string(there->revision) + ")";
      return true;
    }
    // Past the target's revision and at least the source's: nodes running on the target see it
    // move within a poll and load this World (they cannot build on what they had: every row is
    // new to them).
    const int64_t revision =
        std::max<int64_t>({world->revision, there ? there->revision + 1 : 1, 1});
    PgResult state = PgQuery(c_,
                             "UPDATE world_state SET revision = $1, removals_kept_after = $1 "
                             "WHERE id = 1")
                         .Bind(revision)
                         .Run();
    if (state.Affected() == 0) {
      PgResult inserted = PgQuery(c_,
                                  "INSERT INTO world_state(id, revision, removals_kept_after) "
                                  "VALUES(1, $1, $1) ON CONFLICT (id) DO NOTHING")
                              .Bind(revision)
                              .Run();
      if (inserted.Affected() == 0) {
        throw std::runtime_error(
            "a node running on the cluster saved an exposure World during the migration: stop "
            "the cluster's nodes and run kura migrate again");
      }
    }
    // In slices, each statement well within the statement timeout.
    constexpr size_t kRowsPerStatement = 20000;
    for (size_t at = 0; at < rows.size(); at += kRowsPerStatement) {
      std::vector<std::string> kinds, keys, bodies;
      for (size_t i = at; i < std::min(rows.size(), at + kRowsPerStatement); ++i) {
        kinds.push_back(rows[i].kind);
        keys.push_back(rows[i].key);
        bodies.push_back(rows[i].body.value_or(""));
      }
      PgQuery(c_,
              "INSERT INTO world_rows(kind, key, body, revision) "
              "SELECT k, n, b, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(k, n, b) "
              "ON CONFLICT (kind, key) DO UPDATE SET body = EXCLUDED.body, "
              "revision = EXCLUDED.revision")
          .BindTextArray(kinds)
          .BindTextArray(keys)
          .BindTextArray(bodies)
          .Bind(revision)
          .Run();
    }
    report_.world = std::string(options_.dry_run ? "would be copied" : "copied") + " at revision " +
                    std::to_string(revision) + " (" + std::to_string(rows.size()) + " rows; " +
                    (there ? "the target held only the accounts its nodes were configured with)"
                           : "the target had none)");
    return true;
  }

  void CopySecrets(bool world_goes) {
    TableCopy& table = Table("secrets");
    if (!source_.HasTable("secrets")) return;
    Statement s(source_.connection(), "SELECT name, value FROM secrets ORDER BY name");
    while (s.Step()) {
      const std::string name = s.Text(0), value = s.Text(1);
      PgResult there =
          PgQuery(c_, "SELECT value FROM secrets WHERE name = $1 FOR UPDATE").Bind(name).Run();
      const bool differs = there.rows() > 0 && there.Text(0, 0) != value;
      if (there.rows() > 0 && !differs) {
        ++table.present;
      } else if (!world_goes && differs) {
        ++table.present;
        report_.notes.push_back("secret " + name +
                                ": the target's is kept (the source has no instances, so no "
                                "token was signed with the source's)");
      } else {
        PgQuery(c_,
                "INSERT INTO secrets(name, value) VALUES($1, $2) "
                "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value")
            .Bind(name)
            .Bind(value)
            .Run();
        ++table.copied;
        if (differs) {
          report_.notes.push_back(
              "secret " + name + ": the target's (made by a node started on it before) " +
              (options_.dry_run ? "would be" : "was") +
              " replaced by the source's, so that tokens signed before the migration still "
              "verify: restart the nodes that were running on the target (a node reads it once, "
              "at start)");
        }
      }
    }
  }

  void CopyRepositories() {
    TableCopy& table = Table("repositories");
    if (!source_.HasTable("repositories")) return;
    Statement s(source_.connection(), "SELECT instance, name FROM repositories");
    while (s.Step()) {
      const std::string key = s.Text(0);
      if (Retired(table, key)) continue;
      Count(table, PgQuery(c_,
                           "INSERT INTO repositories(instance, name) VALUES($1, $2) "
                           "ON CONFLICT DO NOTHING")
                       .Bind(key)
                       .Bind(s.Text(1))
                       .Run());
    }
  }

  bool BlobInTarget(const std::string& digest) {
    auto it = blob_cache_.find(digest);
    if (it == blob_cache_.end())
      it = blob_cache_.emplace(digest, options_.blob_in_target(digest)).first;
    return it->second;
  }

  void CopyBlobLinks() {
    TableCopy& table = Table("repository_blobs");
    if (!source_.HasTable("repository_blobs")) return;
    Statement s(source_.connection(),
                "SELECT instance, repo, digest, size FROM repository_blobs ORDER BY digest");
    std::set<std::string> missing;
    while (s.Step()) {
      const std::string key = s.Text(0), digest = s.Text(2);
      if (Retired(table, key)) continue;
      if (!BlobInTarget(digest)) {
        ++table.skipped;
        table.why_skipped = "their blob is missing from the target";
        missing.insert(digest);
        continue;
      }
      Count(table, PgQuery(c_,
                           "INSERT INTO repository_blobs(instance, repo, digest, size) "
                           "VALUES($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                       .Bind(key)
                       .Bind(s.Text(1))
                       .Bind(digest)
                       .Bind(s.Int(3))
                       .Run());
    }
    report_.missing_blobs.assign(missing.begin(), missing.end());
  }

  void CopyManifests() {
    TableCopy& table = Table("manifests");
    if (!source_.HasTable("manifests")) return;
    Statement s(source_.connection(),
                "SELECT instance, repo, digest, media_type, body, subject, artifact_type, "
                "annotations FROM manifests");
    while (s.Step()) {
      const std::string key = s.Text(0);
      if (Retired(table, key)) continue;
      const std::string body = s.Blob(4), artifact_type = s.Blob(6), annotations = s.Blob(7);
      Count(table, PgQuery(c_,
                           "INSERT INTO manifests(instance, repo, digest, media_type, body, "
                           "subject, artifact_type, annotations) "
                           "VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING")
                       .Bind(key)
                       .Bind(s.Text(1))
                       .Bind(s.Text(2))
                       .Bind(s.Text(3))
                       .BindBytes(body)
                       .BindNullable(s.Text(5))
                       .BindBytes(artifact_type)
                       .BindBytes(annotations)
                       .Run());
    }
  }

  void CopyTags() {
    TableCopy& table = Table("tags");
    if (!source_.HasTable("tags")) return;
    Statement s(source_.connection(), "SELECT instance, repo, tag, digest FROM tags");
    while (s.Step()) {
      const std::string key = s.Text(0);
      if (Retired(table, key)) continue;
      Count(table, PgQuery(c_,
                           "INSERT INTO tags(instance, repo, tag, digest) VALUES($1, $2, $3, $4) "
                           "ON CONFLICT DO NOTHING")
                       .Bind(key)
                       .Bind(s.Text(1))
                       .Bind(s.Text(2))
                       .Bind(s.Text(3))
                       .Run());
    }
  }

  void CopyCredentials() {
    TableCopy& table = Table("credentials");
    if (!source_.HasTable("credentials")) return;
    Statement s(source_.connection(),
                "SELECT instance, user, hash, expires_at FROM credentials ORDER BY expires_at");
    while (s.Step()) {
      const std::string key = s.Text(0), user = s.Text(1), hash = s.Text(2);
      const int64_t expires_at = s.Int(3);
      if (Retired(table, key)) continue;
      if (expires_at != 0 && expires_at <= options_.now) {
        ++table.skipped;
        table.why_skipped = "expired temporary passwords";
        continue;
      }
      if (expires_at != 0) {
        Count(table, PgQuery(c_,
                             "INSERT INTO credentials(instance, user_name, hash, expires_at) "
                             "VALUES($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                         .Bind(key)
                         .Bind(user)
                         .Bind(hash)
                         .Bind(expires_at)
                         .Run());
        continue;
      }
      // One permanent password per user: one set on the cluster since is the one that holds.
      Count(table,
            PgQuery(c_,
                    "INSERT INTO credentials(instance, user_name, hash, expires_at) "
                    "SELECT $1, $2, $3, 0 WHERE NOT EXISTS (SELECT 1 FROM credentials WHERE "
                    "instance = $1 AND user_name = $2 AND expires_at = 0) ON CONFLICT DO NOTHING")
                .Bind(key)
                .Bind(user)
                .Bind(hash)
                .Run());
    }
  }

  void CopyNamespaces() {
    TableCopy& table = Table("namespaces");
    if (!source_.HasTable("namespaces")) return;
    Statement s(source_.connection(), "SELECT instance, name, is_public FROM namespaces");
    while (s.Step()) {
      const std::string key = s.Text(0);
      if (Retired(table, key)) continue;
      Count(table, PgQuery(c_,
                           "INSERT INTO namespaces(instance, name, is_public) VALUES($1, $2, $3) "
                           "ON CONFLICT DO NOTHING")
                       .Bind(key)
                       .Bind(s.Text(1))
                       .BindBool(s.Int(2) != 0)
                       .Run());
    }
  }

  MigrationSource& source_;
  PgConnection& c_;
  const MetadataCopyOptions& options_;
  std::map<std::string, bool>& blob_cache_;
  std::set<std::string> retired_;
  MetadataCopyReport report_;
};

}  // namespace

MigrationSource::MigrationSource(const std::string& path)
    : c_(path, store::SqliteAccess::kReadOnly) {}

bool MigrationSource::HasTable(const char* name) {
  Statement s(c_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  return s.Bind(std::string_view(name)).Step();
}

bool MigrationSource::KeyedByInstanceName() {
  // As instance_keys::KeyedByName, without marking anything: a store is keyed by incarnation
  // once its format row says so, or while it has no rows at all.
  struct Store {
    const char* name;
    const char* tables[2];
    const char* any_row_sql[2];
  };
  static constexpr Store kStores[] = {
      {"registry",
       {"repositories", "uploads"},
       {"SELECT 1 FROM repositories LIMIT 1", "SELECT 1 FROM uploads LIMIT 1"}},
      {"admin",
       {"credentials", "namespaces"},
       {"SELECT 1 FROM credentials LIMIT 1", "SELECT 1 FROM namespaces LIMIT 1"}},
  };
  for (const Store& store : kStores) {
    if (HasTable("store_format")) {
      Statement format(c_, "SELECT keyed_by FROM store_format WHERE store = ?");
      if (format.Bind(std::string_view(store.name)).Step()) {
        if (format.Text(0) != "incarnation") return true;
        continue;
      }
    }
    for (int i = 0; i < 2; ++i) {
      if (!HasTable(store.tables[i])) continue;
      Statement any(c_, store.any_row_sql[i]);
      if (any.Step()) return true;
    }
  }
  return false;
}

std::optional<MigrationSource::World> MigrationSource::SavedWorld() {
  if (HasTable("world_state")) {
    Statement state(c_, "SELECT revision FROM world_state WHERE id = 1");
    if (state.Step()) {
      World world;
      world.revision = state.Int(0);
      Statement s(c_,
                  "SELECT kind, key, body FROM world_rows WHERE body IS NOT NULL "
                  "ORDER BY kind, key");
      while (s.Step()) world.rows.push_back({s.Text(0), s.Text(1), s.Text(2)});
      return world;
    }
  }
  if (!HasTable("exposure_world")) return std::nullopt;
  // A database of a kura before World revisions has none: its World is revision 1, as the
  // admin store reads it.
  Statement column(c_, "SELECT 1 FROM pragma_table_info('exposure_world') WHERE name = 'revision'");
  if (!column.Step()) {
    Statement s(c_, "SELECT document FROM exposure_world WHERE id = 1");
    if (!s.Step()) return std::nullopt;
    return World{{}, s.Text(0), 1};
  }
  Statement s(c_, "SELECT document, revision FROM exposure_world WHERE id = 1");
  if (!s.Step()) return std::nullopt;
  return World{{}, s.Text(0), s.Int(1)};
}

int64_t MigrationSource::UploadSessions() {
  if (!HasTable("uploads")) return 0;
  Statement s(c_, "SELECT count(*) FROM uploads");
  return s.Step() ? s.Int(0) : 0;
}

void CheckWorldsAgree(MigrationSource& source, store::PgDatabase& target,
                      const std::string& domain) {
  std::optional<MigrationSource::World> world = source.SavedWorld();
  if (!world) return;
  const std::vector<store::WorldRow> rows = RowsOf(*world, domain);
  target.Read([&](PgConnection& c) {
    std::optional<TargetWorld> there = TargetWorldOf(c, domain, false);
    if (FitOf(rows, there) == WorldFit::kDiffers) {
      throw std::runtime_error(WorldsDifferMessage(there->revision));
    }
  });
}

MetadataCopyReport CopyMetadata(MigrationSource& source, store::PgDatabase& target,
                                const MetadataCopyOptions& options) {
  // Kept across the transaction's attempts (a deadlock is retried): the target's blobs do not
  // change with it.
  std::map<std::string, bool> blob_cache;
  try {
    return target.Transact([&](PgConnection& c) {
      MetadataCopyReport report = MetadataCopy(source, c, options, blob_cache).Run();
      if (options.dry_run) throw DryRunDone{std::move(report)};
      return report;
    });
  } catch (DryRunDone& done) {
    return std::move(done.report);
  }
}

}  // namespace kura::cli
