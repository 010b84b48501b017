#include "store/sqlite_meta_store.h"

#include "store/instance_keys.h"

namespace kura::store {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS repositories(
  instance TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY(instance, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS repository_blobs(
  instance TEXT NOT NULL, repo TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,
  PRIMARY KEY(instance, repo, digest)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manifests(
  instance TEXT NOT NULL, repo TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL,
  body BLOB NOT NULL, subject TEXT, artifact_type TEXT NOT NULL, annotations TEXT NOT NULL,
  PRIMARY KEY(instance, repo, digest)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests(instance, repo, subject)
  WHERE subject IS NOT NULL;
CREATE TABLE IF NOT EXISTS tags(
  instance TEXT NOT NULL, repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
  PRIMARY KEY(instance, repo, tag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_by_digest ON tags(instance, repo, digest);
CREATE TABLE IF NOT EXISTS uploads(
  id TEXT PRIMARY KEY, instance TEXT NOT NULL, repo TEXT NOT NULL, offset INTEGER NOT NULL,
  touched_at INTEGER NOT NULL DEFAULT 0, lease_holder TEXT,
  lease_until INTEGER NOT NULL DEFAULT 0, state BLOB NOT NULL DEFAULT x'') WITHOUT ROWID;
)sql";

// The tables holding rows of an instance key, all with an `instance` column.
constexpr const char* kKeyedTables[] = {"repositories", "repository_blobs", "manifests", "tags",
                                        "uploads"};
constexpr const char* kAnyKeyedRow =
    "SELECT 1 FROM repositories UNION ALL SELECT 1 FROM uploads LIMIT 1";
constexpr std::string_view kFormatName = "registry";

void RefuseOversizedState(std::string_view state) {
  if (state.size() > kMaxUploadStateBytes) {
    throw StoreError("upload state of " + std::to_string(state.size()) + " bytes (at most " +
                     std::to_string(kMaxUploadStateBytes) + ")");
  }
}

void EnsureRepository(SqliteConnection& c, const RepoKey& repo) {
  Statement(c, "INSERT OR IGNORE INTO repositories(instance, name) VALUES(?, ?)")
      .Bind(repo.instance)
      .Bind(repo.name)
      .Run();
}

}  // namespace

SqliteMetaStore::SqliteMetaStore(std::string path) : db_(std::move(path), kSchema) {
  // Columns that databases of earlier versions lack: the last-touched time (expiry), the lease
  // (one request at a time per session) and the state a node needs to continue an upload.
  auto add_column = [&](const char* name, const char* alter) {
    Statement column(db_.Connection(), "SELECT 1 FROM pragma_table_info('uploads') WHERE name = ?");
    if (!column.Bind(std::string_view(name)).Step()) db_.Connection().Exec(alter);
  };
  add_column("touched_at", "ALTER TABLE uploads ADD COLUMN touched_at INTEGER NOT NULL DEFAULT 0");
  add_column("lease_holder", "ALTER TABLE uploads ADD COLUMN lease_holder TEXT");
  add_column("lease_until",
             "ALTER TABLE uploads ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0");
  add_column("state", "ALTER TABLE uploads ADD COLUMN state BLOB NOT NULL DEFAULT x''");
  instance_keys::EnsureSchema(db_.Connection());
  // A new database is marked as keyed by incarnation before anything is written to it.
  KeyedByInstanceName();
}

bool SqliteMetaStore::KeyedByInstanceName() {
  return instance_keys::KeyedByName(db_.Connection(), kFormatName, kAnyKeyedRow);
}

void SqliteMetaStore::MigrateToIncarnationKeys(
    const std::map<std::string, std::string>& incarnation_of) {
  if (!KeyedByInstanceName()) return;
  instance_keys::Rekey(db_.Connection(), kFormatName, kKeyedTables, incarnation_of, "default",
                       kPlainRegistryKey);
}

std::optional<uint64_t> SqliteMetaStore::LinkedBlobSize(const RepoKey& repo,
                                                        std::string_view digest) {
  Statement s(db_.Connection(),
              "SELECT size FROM repository_blobs WHERE instance = ? AND repo = ? AND digest = ?");
  s.Bind(repo.instance).Bind(repo.name).Bind(digest);
  if (!s.Step()) return std::nullopt;
  return static_cast<uint64_t>(s.Int(0));
}

void SqliteMetaStore::LinkBlob(const RepoKey& repo, std::string_view digest, uint64_t size) {
  SqliteConnection& c = db_.Connection();
  Transaction tx(c);
  instance_keys::RefuseIfDeleted(c, repo.instance);
  EnsureRepository(c, repo);
  Statement(c,
            "INSERT OR IGNORE INTO repository_blobs(instance, repo, digest, size) "
            "VALUES(?, ?, ?, ?)")
      .Bind(repo.instance)
      .Bind(repo.name)
      .Bind(digest)
      .Bind(static_cast<int64_t>(size))
      .Run();
  tx.Commit();
}

bool SqliteMetaStore::UnlinkBlob(const RepoKey& repo, std::string_view digest) {
  Statement s(db_.Connection(),
              "DELETE FROM repository_blobs WHERE instance = ? AND repo = ? AND digest = ?");
  s.Bind(repo.instance).Bind(repo.name).Bind(digest).Run();
  return s.Changes() > 0;
}

std::optional<std::string> SqliteMetaStore::PutManifest(const RepoKey& repo,
                                                        const ManifestRecord& m,
                                                        std::string_view tag) {
  SqliteConnection& c = db_.Connection();
  Transaction tx(c);
  instance_keys::RefuseIfDeleted(c, repo.instance);
  for (const std::string& blob : m.blobs) {
    Statement s(c, "SELECT 1 FROM repository_blobs WHERE instance = ? AND repo = ? AND digest = ?");
    if (!s.Bind(repo.instance).Bind(repo.name).Bind(blob).Step()) return blob;
  }
  for (const std::string& child : m.manifests) {
    Statement s(c, "SELECT 1 FROM manifests WHERE instance = ? AND repo = ? AND digest = ?");
    if (!s.Bind(repo.instance).Bind(repo.name).Bind(child).Step()) return child;
  }
  EnsureRepository(c, repo);
  Statement(c,
            "INSERT OR REPLACE INTO manifests(instance, repo, digest, media_type, body, subject, "
            "artifact_type, annotations) VALUES(?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(repo.instance)
      .Bind(repo.name)
      .Bind(m.digest)
      .Bind(m.media_type)
      .BindBlob(m.body)
      .BindNullable(m.subject)
      .Bind(m.artifact_type)
      .Bind(m.annotations_json)
      .Run();
  if (!tag.empty()) {
    Statement(c, "INSERT OR REPLACE INTO tags(instance, repo, tag, digest) VALUES(?, ?, ?, ?)")
        .Bind(repo.instance)
        .Bind(repo.name)
        .Bind(tag)
        .Bind(m.digest)
        .Run();
  }
  tx.Commit();
  return std::nullopt;
}

std::optional<StoredManifest> SqliteMetaStore::GetManifest(const RepoKey& repo,
                                                           std::string_view digest) {
  Statement s(db_.Connection(),
              "SELECT media_type, body FROM manifests "
              "WHERE instance = ? AND repo = ? AND digest = ?");
  if (!s.Bind(repo.instance).Bind(repo.name).Bind(digest).Step()) return std::nullopt;
  return StoredManifest{std::string(digest), s.Text(0), s.Blob(1)};
}

std::optional<StoredManifest> SqliteMetaStore::GetTaggedManifest(const RepoKey& repo,
                                                                 std::string_view tag) {
  Statement s(db_.Connection(),
              "SELECT m.digest, m.media_type, m.body FROM tags t JOIN manifests m "
              "ON m.instance = t.instance AND m.repo = t.repo AND m.digest = t.digest "
              "WHERE t.instance = ? AND t.repo = ? AND t.tag = ?");
  if (!s.Bind(repo.instance).Bind(repo.name).Bind(tag).Step()) return std::nullopt;
  return StoredManifest{s.Text(0), s.Text(1), s.Blob(2)};
}

bool SqliteMetaStore::DeleteManifest(const RepoKey& repo, std::string_view digest) {
  SqliteConnection& c = db_.Connection();
  Transaction tx(c);
  Statement del(c, "DELETE FROM manifests WHERE instance = ? AND repo = ? AND digest = ?");
  del.Bind(repo.instance).Bind(repo.name).Bind(digest).Run();
  if (del.Changes() == 0) return false;
  Statement(c, "DELETE FROM tags WHERE instance = ? AND repo = ? AND digest = ?")
      .Bind(repo.instance)
      .Bind(repo.name)
      .Bind(digest)
      .Run();
  tx.Commit();
  return true;
}

bool SqliteMetaStore::DeleteTag(const RepoKey& repo, std::string_view tag) {
  Statement s(db_.Connection(), "DELETE FROM tags WHERE instance = ? AND repo = ? AND tag = ?");
  s.Bind(repo.instance).Bind(repo.name).Bind(tag).Run();
  return s.Changes() > 0;
}

bool SqliteMetaStore::RepositoryExists(const RepoKey& repo) {
  Statement s(db_.Connection(), "SELECT 1 FROM repositories WHERE instance = ? AND name = ?");
  return s.Bind(repo.instance).Bind(repo.name).Step();
}

std::vector<std::string> SqliteMetaStore::ListTags(const RepoKey& repo, std::string_view after,
                                                   size_t limit) {
  Statement s(db_.Connection(),
              "SELECT tag FROM tags WHERE instance = ? AND repo = ? AND tag > ? "
              "ORDER BY tag LIMIT ?");
  s.Bind(repo.instance).Bind(repo.name).Bind(after).Bind(static_cast<int64_t>(limit));
  std::vector<std::string> tags;
  while (s.Step()) tags.push_back(s.Text(0));
  return tags;
}

std::vector<std::string> SqliteMetaStore::ListRepositories(std::string_view instance,
                                                           std::string_view after, size_t limit) {
  Statement s(db_.Connection(),
              "SELECT name FROM repositories WHERE instance = ? AND name > ? "
              "ORDER BY name LIMIT ?");
  s.Bind(instance).Bind(after).Bind(static_cast<int64_t>(limit));
  std::vector<std::string> names;
  while (s.Step()) names.push_back(s.Text(0));
  return names;
}

std::vector<Referrer> SqliteMetaStore::ListReferrers(const RepoKey& repo, std::string_view digest) {
  Statement s(db_.Connection(),
              "SELECT media_type, digest, length(body), artifact_type, annotations FROM manifests "
              "WHERE instance = ? AND repo = ? AND subject = ? ORDER BY digest");
  s.Bind(repo.instance).Bind(repo.name).Bind(digest);
  std::vector<Referrer> out;
  while (s.Step()) {
    out.push_back(
        Referrer{s.Text(0), s.Text(1), static_cast<uint64_t>(s.Int(2)), s.Text(3), s.Text(4)});
  }
  return out;
}

void SqliteMetaStore::DeleteInstance(std::string_view instance) {
  SqliteConnection& c = db_.Connection();
  Transaction tx(c);
  instance_keys::Retire(c, instance);
  Statement(c, "DELETE FROM tags WHERE instance = ?").Bind(instance).Run();
  Statement(c, "DELETE FROM manifests WHERE instance = ?").Bind(instance).Run();
  Statement(c, "DELETE FROM repository_blobs WHERE instance = ?").Bind(instance).Run();
  Statement(c, "DELETE FROM repositories WHERE instance = ?").Bind(instance).Run();
  Statement(c, "DELETE FROM uploads WHERE instance = ?").Bind(instance).Run();
  tx.Commit();
}

std::vector<std::string> SqliteMetaStore::ListInstanceKeys() {
  Statement s(db_.Connection(),
              "SELECT instance FROM repositories UNION SELECT instance FROM uploads "
              "ORDER BY instance");
  std::vector<std::string> keys;
  while (s.Step()) keys.push_back(s.Text(0));
  return keys;
}

void SqliteMetaStore::CreateUpload(const UploadSession& u) {
  RefuseOversizedState(u.state);
  // One statement: the session is made only if its instance key is not retired.
  Statement insert(db_.Connection(),
                   "INSERT INTO uploads(id, instance, repo, offset, state, touched_at) "
                   "SELECT ?, ?, ?, ?, ?, unixepoch() "
                   "WHERE NOT EXISTS (SELECT 1 FROM deleted_instances WHERE instance = ?)");
  insert.Bind(u.id)
      .Bind(u.repo.instance)
      .Bind(u.repo.name)
      .Bind(static_cast<int64_t>(u.offset))
      .BindBlob(u.state)
      .Bind(u.repo.instance)
      .Run();
  if (insert.Changes() == 0) throw InstanceGone();
}

std::optional<UploadSession> SqliteMetaStore::FindUpload(std::string_view id) {
  Statement s(db_.Connection(), "SELECT instance, repo, offset, state FROM uploads WHERE id = ?");
  if (!s.Bind(id).Step()) return std::nullopt;
  return UploadSession{std::string(id), RepoKey{s.Text(0), s.Text(1)},
                       static_cast<uint64_t>(s.Int(2)), s.Blob(3)};
}

LeaseOutcome SqliteMetaStore::LeaseUpload(std::string_view id, const RepoKey& repo,
                                          std::string_view holder, int64_t seconds,
                                          UploadSession* session) {
  // One statement: SQLite runs one writer at a time, so two requests can never both take it.
  Statement take(db_.Connection(),
                 "UPDATE uploads SET lease_holder = ?, lease_until = unixepoch() + ?, "
                 "touched_at = unixepoch() WHERE id = ? AND instance = ? AND repo = ? AND "
                 "(lease_holder IS NULL OR lease_until <= unixepoch()) RETURNING offset, state");
  take.Bind(holder).Bind(seconds).Bind(id).Bind(repo.instance).Bind(repo.name);
  if (take.Step()) {
    *session =
        UploadSession{std::string(id), repo, static_cast<uint64_t>(take.Int(0)), take.Blob(1)};
    // The statement commits when it runs to its end: step there, so that a commit that fails
    // throws here. (Left to the reset in ~Statement, a failed commit went unnoticed: the lease
    // was reported taken and was not durable, as the power-loss test found.)
    while (take.Step()) {
    }
    return LeaseOutcome::kLeased;
  }
  Statement exists(db_.Connection(),
                   "SELECT 1 FROM uploads WHERE id = ? AND instance = ? AND repo = ?");
  return exists.Bind(id).Bind(repo.instance).Bind(repo.name).Step() ? LeaseOutcome::kBusy
                                                                    : LeaseOutcome::kUnknown;
}

bool SqliteMetaStore::RenewUploadLease(std::string_view id, const RepoKey& repo,
                                       std::string_view holder, int64_t seconds) {
  SqliteConnection& c = db_.Connection();
  Statement s(c,
              "UPDATE uploads SET lease_until = unixepoch() + ?, touched_at = unixepoch() "
              "WHERE id = ? AND lease_holder = ?");
  s.Bind(seconds).Bind(id).Bind(holder).Run();
  if (s.Changes() > 0) return true;
  instance_keys::RefuseIfDeleted(c, repo.instance);  // the session went with its instance
  return false;
}

bool SqliteMetaStore::SetUploadOffset(std::string_view id, const RepoKey& repo,
                                      std::string_view holder, uint64_t offset,
                                      std::string_view state) {
  RefuseOversizedState(state);
  SqliteConnection& c = db_.Connection();
  Statement s(c,
              "UPDATE uploads SET offset = ?, state = ?, touched_at = unixepoch() "
              "WHERE id = ? AND lease_holder = ?");
  s.Bind(static_cast<int64_t>(offset)).BindBlob(state).Bind(id).Bind(holder).Run();
  if (s.Changes() > 0) return true;
  instance_keys::RefuseIfDeleted(c, repo.instance);
  return false;
}

void SqliteMetaStore::ReleaseUploadLease(std::string_view id, std::string_view holder) {
  Statement(db_.Connection(),
            "UPDATE uploads SET lease_holder = NULL, lease_until = 0 "
            "WHERE id = ? AND lease_holder = ?")
      .Bind(id)
      .Bind(holder)
      .Run();
}

void SqliteMetaStore::DeleteUpload(std::string_view id) {
  Statement(db_.Connection(), "DELETE FROM uploads WHERE id = ?").Bind(id).Run();
}

std::vector<std::string> SqliteMetaStore::ExpireUploads(int64_t idle_seconds) {
  SqliteConnection& c = db_.Connection();
  Transaction tx(c);
  // A session a request is writing right now is not idle, whatever its age.
  Statement s(c,
              "DELETE FROM uploads WHERE touched_at < unixepoch() - ? AND "
              "(lease_holder IS NULL OR lease_until <= unixepoch()) RETURNING id");
  s.Bind(idle_seconds);
  std::vector<std::string> ids;
  while (s.Step()) ids.push_back(s.Text(0));
  tx.Commit();
  return ids;
}

std::vector<std::string> SqliteMetaStore::ListUploadIds() {
  Statement s(db_.Connection(), "SELECT id FROM uploads");
  std::vector<std::string> ids;
  while (s.Step()) ids.push_back(s.Text(0));
  return ids;
}

}  // namespace kura::store
