// A PostgreSQL database shared by the stores that keep their state in it (PgMetaStore,
// PgAdminStore): a bounded pool of connections per process, prepared statements per connection,
// every store operation one transaction, nothing waited for without a bound.
//
// Failures: when the database cannot be reached (refused, timed out, connection lost, every
// connection busy for too long) calls throw StoreUnavailable; other database errors StoreError
// (StorageFull for a full disk). A transaction that fails half-way is rolled back by the server
// (the connection it ran on is dropped when lost), so nothing half-done is ever visible.
//
// Lost connections: a connection that failed is closed and a new one made on the next call;
// while the database refuses new connections, attempts are spaced out (100 ms doubling up to
// 5 s), and calls in between fail at once with the last error instead of waiting.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/meta_store.h"

struct pg_conn;
struct pg_result;

namespace kura::store {

struct LibPq;

struct PgOptions {
  // Connections this process opens at most; a call waits up to acquire_timeout for a free one.
  size_t max_connections = 8;
  std::chrono::milliseconds acquire_timeout{5000};
  // libpq's connect_timeout (it waits at least 2 s); a URL that sets connect_timeout wins.
  int connect_timeout_seconds = 5;
  // The server cancels a statement that runs longer (statement_timeout); the client gives up on a
  // connection that has not answered a statement this long plus 5 s (a server gone silent).
  std::chrono::milliseconds statement_timeout{15000};
  // At open, a database whose schema is older than this kura's: true applies the pending
  // migrations (as `kura db migrate` does), false refuses with a message naming that command.
  bool apply_migrations = false;
};

// The rows a statement returned (binary format), owned; empty for commands.
class PgResult {
 public:
  PgResult() = default;
  PgResult(const LibPq* pq, pg_result* result) : pq_(pq), result_(result) {}
  ~PgResult();
  PgResult(PgResult&& other) noexcept;
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const;
  bool IsNull(int row, int col) const;
  // text, varchar, bytea: the bytes as stored.
  std::string Text(int row, int col) const;
  // int2, int4, int8, bool.
  int64_t Int(int row, int col) const;
  // Rows inserted, updated or deleted by the command.
  int64_t Affected() const;

 private:
  friend class PgConnection;
  const LibPq* pq_ = nullptr;
  pg_result* result_ = nullptr;
};

// One connection to the database, used by one thread at a time (PgDatabase hands it out).
class PgConnection {
 public:
  // Connects or throws StoreUnavailable (StoreError for a URL libpq cannot parse).
  PgConnection(const std::string& url, const PgOptions& options);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one or more statements without parameters (the simple protocol): BEGIN, COMMIT, DDL.
  PgResult Exec(const char* sql);
  // Runs `sql`, one COPY (...) TO STDOUT (FORMAT binary) without parameters, and hands `row`
  // each row as it arrives: its fields' bytes (nullopt for NULL), valid during the call. The
  // rows stream: a million of them are never one result in memory, and the first reaches `row`
  // while the server still sends the rest. What `row` throws ends the COPY and is thrown (so
  // does StoreError for data not in the binary format); the connection, still receiving rows,
  // is then not usable, and the pool closes it (it is not lost: the server is fine). Throws
  // StoreError for a statement that is no COPY to the client.
  using CopyRow = std::span<const std::optional<std::string_view>>;
  void CopyOut(const std::string& sql, const std::function<void(CopyRow)>& row);
  // The server process serving this connection.
  int BackendPid() const;
  // False once the connection was lost, gave up waiting, or was left in the middle of a COPY:
  // it is never used again.
  bool usable() const { return usable_ && !abandoned_; }
  // True when it was lost or gave up waiting (its server likely went away, for the others too).
  bool lost() const { return !usable_; }
  // True when it was given up because the server did not answer in time (not worth trying
  // again at once: a silent server stays silent for a while).
  bool timed_out() const { return timed_out_; }
  // Whether a transaction is open on the server (an error inside one leaves it open and
  // failed until ROLLBACK).
  bool InTransaction() const;

 private:
  friend class PgQuery;
  struct Param {
    unsigned type = 0;  // the parameter's type OID
    std::string_view value;
    bool null = false;
    bool owned = false;  // the bytes are in `bytes` (an integer, an array), not in `value`
    std::string bytes;   // in the binary format of the type
  };
  // Sends the prepared statement for `sql` (prepared on first use on this connection) and
  // waits for its result.
  PgResult RunPrepared(const char* sql, const std::vector<Param>& params);
  // Waits for the result of what was sent, up to the deadline; throws on failure. A COPY's
  // result is returned as soon as it says the rows follow (CopyOut reads them).
  PgResult Collect(const char* what);
  // Waits up to `deadline` for input from the server and reads it in; Lost when none came or
  // the connection failed.
  void AwaitInput(std::chrono::steady_clock::time_point deadline);
  [[noreturn]] void Lost(const std::string& why, bool timed_out = false);
  [[noreturn]] void Fail(pg_result* result, const char* what);

  const LibPq& pq_;
  pg_conn* conn_ = nullptr;
  bool usable_ = true;
  bool timed_out_ = false;
  bool abandoned_ = false;  // left in the middle of a COPY
  std::chrono::milliseconds answer_timeout_;
  std::unordered_map<const char*, std::string> prepared_;  // by the address of the SQL text
};

// One execution of a prepared statement: binds in order ($1, $2, ...), then Run.
class PgQuery {
 public:
  // `sql` is cached by address: pass a string literal.
  PgQuery(PgConnection& c, const char* sql) : c_(c), sql_(sql) {}
  PgQuery& Bind(std::string_view text);
  PgQuery& BindBytes(std::string_view bytes);    // bytea
  PgQuery& BindNullable(std::string_view text);  // NULL when empty
  PgQuery& Bind(int64_t value);
  PgQuery& BindBool(bool value);
  PgQuery& BindTextArray(const std::vector<std::string>& texts);  // text[]
  PgResult Run();

 private:
  PgConnection& c_;
  const char* sql_;
  std::vector<PgConnection::Param> params_;
};

class PgDatabase {
 public:
  // The database at libpq URL (or key=value string) `url`, its schema checked: one that is older
  // than this kura's is migrated when options.apply_migrations is set and refused otherwise (the
  // message names `kura db migrate`); one newer than this kura's is always refused. The
  // connection made to check stays in the pool. Throws StoreUnavailable when the database cannot
  // be reached, StoreError when its schema does not fit.
  static std::shared_ptr<PgDatabase> Open(std::string url, PgOptions options = {});
  // The pool alone, connecting on first use, the schema unchecked: for `kura db migrate`.
  static std::shared_ptr<PgDatabase> Connect(std::string url, PgOptions options = {});
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;
  ~PgDatabase();

  // A connection of the pool, returned to it when the lease goes out of scope (closed instead
  // when it is no longer usable).
  class Lease {
   public:
    Lease(PgDatabase* db, std::unique_ptr<PgConnection> c) : db_(db), c_(std::move(c)) {}
    ~Lease();
    Lease(Lease&&) = default;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    PgConnection& operator*() { return *c_; }
    PgConnection* operator->() { return c_.get(); }

   private:
    PgDatabase* db_;
    std::unique_ptr<PgConnection> c_;
  };
  Lease Acquire();

  // Runs `body(connection)` in one transaction (BEGIN ... COMMIT) and returns what it returns.
  // If it throws, the transaction is rolled back and the exception goes on. A deadlock or
  // serialization failure is retried (the whole body, at most 3 times); a connection found dead
  // at BEGIN, before anything was sent, is replaced once. A connection lost later is not
  // retried (the outcome of a COMMIT in flight is unknown): StoreUnavailable.
  template <class Body>
  auto Transact(Body&& body) -> std::invoke_result_t<Body&, PgConnection&> {
    using R = std::invoke_result_t<Body&, PgConnection&>;
    if constexpr (std::is_void_v<R>) {
      RunTransaction([&](PgConnection& c) { body(c); });
    } else {
      std::optional<R> out;
      RunTransaction([&](PgConnection& c) { out.emplace(body(c)); });
      return std::move(*out);
    }
  }

  // Runs `body(connection)`, made of one statement that only reads (a statement is a
  // transaction of its own), retried once on a fresh connection when the connection was lost.
  template <class Body>
  auto Read(Body&& body) -> std::invoke_result_t<Body&, PgConnection&> {
    using R = std::invoke_result_t<Body&, PgConnection&>;
    if constexpr (std::is_void_v<R>) {
      RunRead([&](PgConnection& c) { body(c); });
    } else {
      std::optional<R> out;
      RunRead([&](PgConnection& c) { out.emplace(body(c)); });
      return std::move(*out);
    }
  }

  const std::string& url() const { return url_; }
  const PgOptions& options() const { return options_; }

 private:
  PgDatabase(std::string url, PgOptions options);
  void RunTransaction(const std::function<void(PgConnection&)>& body);
  void RunRead(const std::function<void(PgConnection&)>& body);
  std::unique_ptr<PgConnection> Connect();
  void Release(std::unique_ptr<PgConnection> c);
  // Closes the idle connections: after one was found lost, the others (same server) likely are.
  void DropIdle();

  const std::string url_;
  const PgOptions options_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  size_t open_ = 0;  // connections handed out or idle, or being made
  // Backoff after failed connection attempts.
  int connect_failures_ = 0;
  std::chrono::steady_clock::time_point next_connect_{};
  std::string last_connect_error_;
};

}  // namespace kura::store
