#include "store/sqlite_db.h"

#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>

namespace kura::store {
namespace {

std::atomic<uint64_t> next_database_id{1};

// SQLite counts every allocation under a global mutex unless told not to; kura never reads the
// counts. Must run before the library initializes, i.e. before the first open.
void DisableMemoryStatistics() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

// The writer lock of the file at `path`: one per file while any connection to it is open.
std::shared_ptr<std::recursive_mutex> WriterLockOf(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<std::recursive_mutex>> locks;
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  std::string key = ec ? path : absolute.lexically_normal().string();
  std::lock_guard guard(mu);
  for (auto it = locks.begin(); it != locks.end();) {  // forget the files no longer open
    it = it->second.expired() ? locks.erase(it) : std::next(it);
  }
  std::shared_ptr<std::recursive_mutex> lock = locks[key].lock();
  if (!lock) {
    lock = std::make_shared<std::recursive_mutex>();
    locks[key] = lock;
  }
  return lock;
}

}  // namespace

SqliteConnection::SqliteConnection(const std::string& path, SqliteAccess access)
    : writer_lock_(WriterLockOf(path)) {
  DisableMemoryStatistics();
  const int mode = access == SqliteAccess::kReadOnly ? SQLITE_OPEN_READONLY
                                                     : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path.c_str(), &db_, mode | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError("cannot open " + path + ": " + why);
  }
  sqlite3_busy_timeout(db_, 10000);
  // A reader changes nothing of the database: neither its journal mode nor its content. (A
  // database in WAL mode is read through its -shm index; SQLite creates it, and an empty -wal,
  // beside the file when they are missing, and leaves them.)
  if (access == SqliteAccess::kReadOnly) return;
  try {
    // WAL: readers never block the writer. synchronous=FULL: every commit syncs the WAL before
    // it returns, so a manifest or tag PUT that was acknowledged survives a power loss, not only
    // a crash of the process (NORMAL, which syncs at checkpoints only, may drop the last commits
    // on power loss: pushed images the client was told are stored).
    Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    // Every thread has a connection to each database, and each connection its own page cache
    // (2 MiB by default): an idle server kept megabytes of copies of pages that the kernel's page
    // cache holds anyway. 256 KiB keeps the B-tree levels of point lookups; long scans (a list of
    // 10,000 tags) read through it.
    Exec("PRAGMA cache_size=-256;");
  } catch (...) {
    // No destructor runs for a constructor that throws: the connection would stay open (and its
    // file descriptors and locks with it).
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

namespace {

// A full disk is told apart: the request that met it is undone and can be retried once there is
// room (507), where other failures are the server's (500).
[[noreturn]] void ThrowSqlite(int rc, const std::string& why) {
  if ((rc & 0xff) == SQLITE_FULL) throw StorageFull("sqlite: " + why);
  throw StoreError("sqlite: " + why);
}

}  // namespace

void SqliteConnection::Exec(const char* sql) {
  std::lock_guard writing(*writer_lock_);
  char* err = nullptr;
  if (int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err); rc != SQLITE_OK) {
    std::string why = err ? err : "unknown error";
    sqlite3_free(err);
    ThrowSqlite(rc, why);
  }
}

sqlite3_stmt* SqliteConnection::Prepare(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    throw StoreError(std::string("sqlite prepare: ") + sqlite3_errmsg(db_));
  }
  statements_.emplace(sql, stmt);
  return stmt;
}

SqliteDatabase::SqliteDatabase(std::string path, const char* schema)
    : path_(std::move(path)), id_(next_database_id++) {
  Connection().Exec(schema);
}

SqliteConnection& SqliteDatabase::Connection() {
  // Ids are never reused, so an entry of a destroyed database is never looked up again.
  thread_local std::unordered_map<uint64_t, SqliteConnection*> mine;
  auto it = mine.find(id_);
  if (it != mine.end()) return *it->second;
  auto conn = std::make_unique<SqliteConnection>(path_);
  SqliteConnection* raw = conn.get();
  {
    std::lock_guard lock(connections_mu_);
    connections_.push_back(std::move(conn));
  }
  mine.emplace(id_, raw);
  return *raw;
}

Statement::Statement(SqliteConnection& c, const char* sql) : db_(c.db()), stmt_(c.Prepare(sql)) {
  // A write outside a transaction is a transaction of its own: it takes the writer lock too.
  if (sqlite3_stmt_readonly(stmt_) == 0 && sqlite3_get_autocommit(db_) != 0) {
    writing_ = std::unique_lock(c.writer_lock());
  }
}

Statement::~Statement() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

// SQLite binds NULL for a null pointer: an empty std::string_view{} is bound as "" instead.
Statement& Statement::Bind(std::string_view text) {
  sqlite3_bind_text(stmt_, ++index_, text.data() ? text.data() : "", static_cast<int>(text.size()),
                    SQLITE_STATIC);
  return *this;
}

Statement& Statement::BindBlob(std::string_view bytes) {
  sqlite3_bind_blob(stmt_, ++index_, bytes.data() ? bytes.data() : "",
                    static_cast<int>(bytes.size()), SQLITE_STATIC);
  return *this;
}

Statement& Statement::BindNullable(std::string_view text) {
  if (text.empty()) {
    sqlite3_bind_null(stmt_, ++index_);
    return *this;
  }
  return Bind(text);
}

Statement& Statement::Bind(int64_t value) {
  sqlite3_bind_int64(stmt_, ++index_, value);
  return *this;
}

bool Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  ThrowSqlite(rc, sqlite3_errmsg(db_));
}

std::string Statement::Text(int col) {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
}

bool Statement::IsNull(int col) {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::string Statement::Blob(int col) {
  auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
}

int64_t Statement::Int(int col) {
  return sqlite3_column_int64(stmt_, col);
}

int Statement::Changes() {
  return sqlite3_changes(db_);
}

Transaction::Transaction(SqliteConnection& c) : c_(c), writing_(c.writer_lock()) {
  c_.Exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(c_.db(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::Commit() {
  c_.Exec("COMMIT");
  done_ = true;
  writing_.unlock();
}

}  // namespace kura::store
