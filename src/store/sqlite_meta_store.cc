#include "store/sqlite_meta_store.h"

#include <sqlite3.h>

#include <atomic>
#include <unordered_map>

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
  id TEXT PRIMARY KEY, instance TEXT NOT NULL, repo TEXT NOT NULL, offset INTEGER NOT NULL)
  WITHOUT ROWID;
)sql";

std::atomic<uint64_t> next_store_id{1};

}  // namespace

// One SQLite connection, used by one thread at a time, with its prepared statements cached by
// the address of their SQL text (every statement is a string literal).
class SqliteMetaStore::Connection {
 public:
  explicit Connection(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw StoreError("cannot open " + path + ": " + why);
    }
    sqlite3_busy_timeout(db_, 10000);
    // WAL: readers never block the writer. synchronous=NORMAL keeps every committed transaction
    // across a crash of the process (what SIGKILL tests); a power loss may drop the last ones but
    // never corrupts the database.
    Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;");
  }
  ~Connection() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }

  void Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string why = err ? err : "unknown error";
      sqlite3_free(err);
      throw StoreError(std::string("sqlite: ") + why);
    }
  }

  sqlite3_stmt* Prepare(const char* sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      throw StoreError(std::string("sqlite prepare: ") + sqlite3_errmsg(db_));
    }
    statements_.emplace(sql, stmt);
    return stmt;
  }

  sqlite3* db() { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

namespace {

// A cached statement in use: binds, steps, and is reset when it goes out of scope.
class Statement {
 public:
  Statement(SqliteMetaStore::Connection& c, const char* sql) : db_(c.db()), stmt_(c.Prepare(sql)) {}
  ~Statement() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Statement& Bind(std::string_view text) {
    sqlite3_bind_text(stmt_, ++index_, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& BindBlob(std::string_view bytes) {
    sqlite3_bind_blob(stmt_, ++index_, bytes.data(), static_cast<int>(bytes.size()),
                      SQLITE_STATIC);
    return *this;
  }
  Statement& BindNullable(std::string_view text) {
    if (text.empty()) {
      sqlite3_bind_null(stmt_, ++index_);
      return *this;
    }
    return Bind(text);
  }
  Statement& Bind(int64_t v) {
    sqlite3_bind_int64(stmt_, ++index_, v);
    return *this;
  }
  // Returns true while there is a row.
  bool Step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StoreError(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }
  void Run() { Step(); }
  std::string Text(int col) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  std::string Blob(int col) {
    auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  int Changes() { return sqlite3_changes(db_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int index_ = 0;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if Commit() is not reached.
class Transaction {
 public:
  explicit Transaction(SqliteMetaStore::Connection& c) : c_(c) { c_.Exec("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(c_.db(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void Commit() {
    c_.Exec("COMMIT");
    done_ = true;
  }

 private:
  SqliteMetaStore::Connection& c_;
  bool done_ = false;
};

void EnsureRepository(SqliteMetaStore::Connection& c, const RepoKey& repo) {
  Statement(c, "INSERT OR IGNORE INTO repositories(instance, name) VALUES(?, ?)")
      .Bind(repo.instance)
      .Bind(repo.name)
      .Run();
}

}  // namespace

SqliteMetaStore::SqliteMetaStore(std::string path) : path_(std::move(path)), id_(next_store_id++) {
  ThisThreadConnection().Exec(kSchema);
}

SqliteMetaStore::~SqliteMetaStore() = default;

SqliteMetaStore::Connection& SqliteMetaStore::ThisThreadConnection() {
  // Store ids are never reused, so an entry of a destroyed store is never looked up again.
  thread_local std::unordered_map<uint64_t, Connection*> mine;
  auto it = mine.find(id_);
  if (it != mine.end()) return *it->second;
  auto conn = std::make_unique<Connection>(path_);
  Connection* raw = conn.get();
  {
    std::lock_guard lock(connections_mu_);
    connections_.push_back(std::move(conn));
  }
  mine.emplace(id_, raw);
  return *raw;
}

std::optional<uint64_t> SqliteMetaStore::LinkedBlobSize(const RepoKey& repo,
                                                        std::string_view digest) {
  Statement s(ThisThreadConnection(),
              "SELECT size FROM repository_blobs WHERE instance = ? AND repo = ? AND digest = ?");
  s.Bind(repo.instance).Bind(repo.name).Bind(digest);
  if (!s.Step()) return std::nullopt;
  return static_cast<uint64_t>(s.Int(0));
}

void SqliteMetaStore::LinkBlob(const RepoKey& repo, std::string_view digest, uint64_t size) {
  Connection& c = ThisThreadConnection();
  Transaction tx(c);
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
  Statement s(ThisThreadConnection(),
              "DELETE FROM repository_blobs WHERE instance = ? AND repo = ? AND digest = ?");
  s.Bind(repo.instance).Bind(repo.name).Bind(digest).Run();
  return s.Changes() > 0;
}

std::optional<std::string> SqliteMetaStore::PutManifest(const RepoKey& repo,
                                                        const ManifestRecord& m,
                                                        std::string_view tag) {
  Connection& c = ThisThreadConnection();
  Transaction tx(c);
  for (const std::string& blob : m.blobs) {
    Statement s(c,
                "SELECT 1 FROM repository_blobs WHERE instance = ? AND repo = ? AND digest = ?");
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
  Statement s(ThisThreadConnection(),
              "SELECT media_type, body FROM manifests "
              "WHERE instance = ? AND repo = ? AND digest = ?");
  if (!s.Bind(repo.instance).Bind(repo.name).Bind(digest).Step()) return std::nullopt;
  return StoredManifest{std::string(digest), s.Text(0), s.Blob(1)};
}

std::optional<StoredManifest> SqliteMetaStore::GetTaggedManifest(const RepoKey& repo,
                                                                 std::string_view tag) {
  Statement s(ThisThreadConnection(),
              "SELECT m.digest, m.media_type, m.body FROM tags t JOIN manifests m "
              "ON m.instance = t.instance AND m.repo = t.repo AND m.digest = t.digest "
              "WHERE t.instance = ? AND t.repo = ? AND t.tag = ?");
  if (!s.Bind(repo.instance).Bind(repo.name).Bind(tag).Step()) return std::nullopt;
  return StoredManifest{s.Text(0), s.Text(1), s.Blob(2)};
}

bool SqliteMetaStore::DeleteManifest(const RepoKey& repo, std::string_view digest) {
  Connection& c = ThisThreadConnection();
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
  Statement s(ThisThreadConnection(),
              "DELETE FROM tags WHERE instance = ? AND repo = ? AND tag = ?");
  s.Bind(repo.instance).Bind(repo.name).Bind(tag).Run();
  return s.Changes() > 0;
}

bool SqliteMetaStore::RepositoryExists(const RepoKey& repo) {
  Statement s(ThisThreadConnection(),
              "SELECT 1 FROM repositories WHERE instance = ? AND name = ?");
  return s.Bind(repo.instance).Bind(repo.name).Step();
}

std::vector<std::string> SqliteMetaStore::ListTags(const RepoKey& repo, std::string_view after,
                                                   size_t limit) {
  Statement s(ThisThreadConnection(),
              "SELECT tag FROM tags WHERE instance = ? AND repo = ? AND tag > ? "
              "ORDER BY tag LIMIT ?");
  s.Bind(repo.instance).Bind(repo.name).Bind(after).Bind(static_cast<int64_t>(limit));
  std::vector<std::string> tags;
  while (s.Step()) tags.push_back(s.Text(0));
  return tags;
}

std::vector<std::string> SqliteMetaStore::ListRepositories(std::string_view instance,
                                                           std::string_view after, size_t limit) {
  Statement s(ThisThreadConnection(),
              "SELECT name FROM repositories WHERE instance = ? AND name > ? "
              "ORDER BY name LIMIT ?");
  s.Bind(instance).Bind(after).Bind(static_cast<int64_t>(limit));
  std::vector<std::string> names;
  while (s.Step()) names.push_back(s.Text(0));
  return names;
}

std::vector<Referrer> SqliteMetaStore::ListReferrers(const RepoKey& repo,
                                                     std::string_view digest) {
  Statement s(ThisThreadConnection(),
              "SELECT media_type, digest, length(body), artifact_type, annotations FROM manifests "
              "WHERE instance = ? AND repo = ? AND subject = ? ORDER BY digest");
  s.Bind(repo.instance).Bind(repo.name).Bind(digest);
  std::vector<Referrer> out;
  while (s.Step()) {
    out.push_back(Referrer{s.Text(0), s.Text(1), static_cast<uint64_t>(s.Int(2)), s.Text(3),
                           s.Text(4)});
  }
  return out;
}

void SqliteMetaStore::CreateUpload(const UploadSession& u) {
  Statement(ThisThreadConnection(),
            "INSERT INTO uploads(id, instance, repo, offset) VALUES(?, ?, ?, ?)")
      .Bind(u.id)
      .Bind(u.repo.instance)
      .Bind(u.repo.name)
      .Bind(static_cast<int64_t>(u.offset))
      .Run();
}

std::optional<UploadSession> SqliteMetaStore::FindUpload(std::string_view id) {
  Statement s(ThisThreadConnection(), "SELECT instance, repo, offset FROM uploads WHERE id = ?");
  if (!s.Bind(id).Step()) return std::nullopt;
  return UploadSession{std::string(id), RepoKey{s.Text(0), s.Text(1)},
                       static_cast<uint64_t>(s.Int(2))};
}

void SqliteMetaStore::SetUploadOffset(std::string_view id, uint64_t offset) {
  Statement(ThisThreadConnection(), "UPDATE uploads SET offset = ? WHERE id = ?")
      .Bind(static_cast<int64_t>(offset))
      .Bind(id)
      .Run();
}

void SqliteMetaStore::DeleteUpload(std::string_view id) {
  Statement(ThisThreadConnection(), "DELETE FROM uploads WHERE id = ?").Bind(id).Run();
}

std::vector<std::string> SqliteMetaStore::ListUploadIds() {
  Statement s(ThisThreadConnection(), "SELECT id FROM uploads");
  std::vector<std::string> ids;
  while (s.Step()) ids.push_back(s.Text(0));
  return ids;
}

}  // namespace kura::store
