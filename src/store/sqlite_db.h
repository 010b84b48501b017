// A SQLite database file shared by the stores that keep their state in it: one connection per
// thread (SQLite connections must not be used by two threads at once), prepared statements cached
// per connection, WAL mode. Errors throw StoreError.
//
// Writers of one file take turns on a lock of this process (the writer lock) before they ask
// SQLite for its write lock: a transaction, a statement that writes outside one, and Exec. SQLite
// would make the second of two writers sleep in its busy handler (1, 2, 5, 10... ms, on the
// thread that serves other requests too) while the first holds the write lock through its
// fsync; on the writer lock it wakes the moment the first commits. Each commit is synced as
// before (synchronous=FULL): the lock changes when writers run, never what a commit promises.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/meta_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace kura::store {

// How a connection opens its database file.
enum class SqliteAccess {
  kReadWrite,  // created if missing, WAL mode, every commit synced
  kReadOnly,   // must exist; nothing is ever written to it (`kura migrate` reads its source so)
};

// One connection, used by one thread at a time.
class SqliteConnection {
 public:
  // Throws StoreError if the file cannot be opened (for kReadOnly: also when it does not exist).
  explicit SqliteConnection(const std::string& path,
                            SqliteAccess access = SqliteAccess::kReadWrite);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // Runs one or more statements without results.
  void Exec(const char* sql);
  // The prepared statement for `sql`, cached by the address of the text: pass string literals.
  sqlite3_stmt* Prepare(const char* sql);
  sqlite3* db() { return db_; }
  // The writer lock of this connection's file (shared by every connection to it in this
  // process). Recursive: a transaction's statements and Exec calls take it again.
  std::recursive_mutex& writer_lock() { return *writer_lock_; }

 private:
  sqlite3* db_ = nullptr;
  std::shared_ptr<std::recursive_mutex> writer_lock_;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

class SqliteDatabase {
 public:
  // Opens (creating it if needed) the database at `path` and runs `schema` once.
  SqliteDatabase(std::string path, const char* schema);
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  // The calling thread's connection, opened on first use.
  SqliteConnection& Connection();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  uint64_t id_;                // tells this database's per-thread connections from another's
  std::mutex connections_mu_;  // guards connections_ (touched once per thread)
  std::vector<std::unique_ptr<SqliteConnection>> connections_;
};

// A cached statement in use: binds, steps, and is reset when it goes out of scope.
class Statement {
 public:
  Statement(SqliteConnection& c, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(std::string_view text);
  Statement& BindBlob(std::string_view bytes);
  Statement& BindNullable(std::string_view text);  // NULL when empty
  Statement& Bind(int64_t value);
  // Returns true while there is a row.
  bool Step();
  void Run() { Step(); }
  std::string Text(int col);
  bool IsNull(int col);
  std::string Blob(int col);
  int64_t Int(int col);
  // Rows changed by the last Run.
  int Changes();

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int index_ = 0;
  // Held from construction to the reset that ends the statement when it writes outside a
  // transaction (its own commit happens by then).
  std::unique_lock<std::recursive_mutex> writing_;
};

// The writer lock, then BEGIN IMMEDIATE ... COMMIT, rolled back if Commit() is not reached; the
// writer lock is released once the transaction has ended.
class Transaction {
 public:
  explicit Transaction(SqliteConnection& c);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void Commit();

 private:
  SqliteConnection& c_;
  std::unique_lock<std::recursive_mutex> writing_;
  bool done_ = false;
};

}  // namespace kura::store
