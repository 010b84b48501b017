#include "store/pg_db.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "store/libpq_api.h"
#include "store/pg_schema.h"

namespace kura::store {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Type OIDs (pg_type.h) of the parameters and columns the stores use.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kTextArrayOid = 1009;

constexpr int kBinary = 1;

// A deadlock or a serialization failure: the transaction was rolled back and may run again.
class TransactionConflict : public StoreUnavailable {
 public:
  using StoreUnavailable::StoreUnavailable;
};

// libpq's message on one line: a store error is one line (kura db migrate prints it as is).
std::string OneLine(const char* message) {
  std::string line;
  for (const char* p = message ? message : ""; *p; ++p) {
    const bool space = *p == '\n' || *p == '\t' || *p == ' ';
    if (space && (line.empty() || line.back() == ' ')) continue;
    line += space ? ' ' : *p;
  }
  if (!line.empty() && line.back() == ' ') line.pop_back();
  return line.empty() ? "unknown error" : line;
}

void AppendBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t ReadBigEndian(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

// ---- PgResult

PgResult::~PgResult() {
  if (result_) pq_->PQclear(result_);
}

PgResult::PgResult(PgResult&& other) noexcept
    : pq_(other.pq_), result_(std::exchange(other.result_, nullptr)) {}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_) pq_->PQclear(result_);
    pq_ = other.pq_;
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}

int PgResult::rows() const {
  return result_ ? pq_->PQntuples(result_) : 0;
}

bool PgResult::IsNull(int row, int col) const {
  return pq_->PQgetisnull(result_, row, col) != 0;
}

std::string PgResult::Text(int row, int col) const {
  if (IsNull(row, col)) return {};
  return std::string(pq_->PQgetvalue(result_, row, col), pq_->PQgetlength(result_, row, col));
}

int64_t PgResult::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  const char* p = pq_->PQgetvalue(result_, row, col);
  switch (pq_->PQftype(result_, col)) {
    case kInt8Oid:
      return static_cast<int64_t>(ReadBigEndian(p, 8));
    case kInt4Oid:
      return static_cast<int32_t>(ReadBigEndian(p, 4));
    case kInt2Oid:
      return static_cast<int16_t>(ReadBigEndian(p, 2));
    case kBoolOid:
      return p[0] != 0;
    default:
      throw StoreError("postgres: column " + std::to_string(col) + " is not an integer");
  }
}

int64_t PgResult::Affected() const {
  if (!result_) return 0;
  return std::strtoll(pq_->PQcmdTuples(result_), nullptr, 10);
}

// ---- PgConnection

PgConnection::PgConnection(const std::string& url, const PgOptions& options)
    : pq_(Libpq()), answer_timeout_(options.statement_timeout + std::chrono::seconds(5)) {
  // Defaults first, the URL (dbname, expanded) last: what the URL sets wins. Keepalives and
  // tcp_user_timeout notice a server that vanished without closing the connection.
  const std::string connect_timeout = std::to_string(options.connect_timeout_seconds);
  const char* keys[] = {"connect_timeout",     "keepalives",       "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                        "application_name",    "dbname",           nullptr};
  const char* values[] = {
      connect_timeout.c_str(), "1", "10", "3", "3", "15000", "kura", url.c_str(), nullptr};
  conn_ = pq_.PQconnectdbParams(keys, values, 1);
  if (!conn_) throw StoreUnavailable("cannot connect to PostgreSQL: out of memory");
  if (pq_.PQstatus(conn_) != CONNECTION_OK) {
    std::string why = OneLine(pq_.PQerrorMessage(conn_));
    pq_.PQfinish(conn_);
    conn_ = nullptr;
    throw StoreUnavailable("cannot connect to PostgreSQL: " + why);
  }
  // Notices ("relation already exists, skipping") would go to stderr.
  pq_.PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
  const std::string timeouts =
      "SET statement_timeout = " + std::to_string(options.statement_timeout.count()) +
      "; SET idle_in_transaction_session_timeout = " +
      std::to_string(4 * options.statement_timeout.count()) +
      // An acknowledged write must survive a crash of the server: never commit asynchronously,
      // whatever the database's default (remote_write, on, remote_apply are kept).
      "; SELECT CASE WHEN current_setting('synchronous_commit') = 'off' "
      "THEN set_config('synchronous_commit', 'on', false) END";
  try {
    Exec(timeouts.c_str());
  } catch (...) {
    pq_.PQfinish(conn_);
    conn_ = nullptr;
    throw;
  }
}

PgConnection::~PgConnection() {
  if (conn_) pq_.PQfinish(conn_);
}

int PgConnection::BackendPid() const {
  return pq_.PQbackendPID(conn_);
}

bool PgConnection::InTransaction() const {
  return pq_.PQtransactionStatus(conn_) != PQTRANS_IDLE;
}

void PgConnection::Lost(const std::string& why, bool timed_out) {
  usable_ = false;
  timed_out_ = timed_out;
  throw StoreUnavailable("PostgreSQL connection lost: " + why);
}

void PgConnection::Fail(pg_result* result, const char* what) {
  const char* state_field = pq_.PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string state = state_field ? state_field : "";
  const std::string message = OneLine(pq_.PQresultErrorMessage(result));
  pq_.PQclear(result);
  // Class 08: connection exceptions; 57P01-57P03: the server is shutting down or starting.
  if (pq_.PQstatus(conn_) != CONNECTION_OK || state.starts_with("08") || state == "57P01" ||
      state == "57P02" || state == "57P03") {
    Lost(message);
  }
  if (state == "40001" || state == "40P01") throw TransactionConflict("postgres: " + message);
  // 57014: statement_timeout (or a cancel); 55P03: lock_not_available. The database is too
  // slow or too busy right now: the same request can succeed later.
  if (state == "57014" || state == "55P03") throw StoreUnavailable("postgres: " + message);
  // 53100: disk_full.
  if (state == "53100") throw StorageFull("postgres: " + message);
  throw StoreError(std::string("postgres: ") + what + ": " + message);
}

void PgConnection::AwaitInput(steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
  if (left.count() <= 0) {
    Lost("no answer in " + std::to_string(answer_timeout_.count()) + " ms", true);
  }
  pollfd p{pq_.PQsocket(conn_), POLLIN, 0};
  const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
  if (n < 0 && errno != EINTR) Lost(std::string("poll: ") + std::strerror(errno));
  if (n > 0 && !pq_.PQconsumeInput(conn_)) Lost(OneLine(pq_.PQerrorMessage(conn_)));
}

PgResult PgConnection::Collect(const char* what) {
  const auto deadline = steady_clock::now() + answer_timeout_;
  PgResult last, error;
  for (;;) {
    while (pq_.PQisBusy(conn_)) AwaitInput(deadline);
    PgResult r(&pq_, pq_.PQgetResult(conn_));
    if (!r.result_) break;
    const ExecStatusType status = pq_.PQresultStatus(r.result_);
    if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE ||
        status == PGRES_NONFATAL_ERROR) {
      if (!error.result_) error = std::move(r);
    } else {
      last = std::move(r);
      // Until the rows are read, libpq answers every PQgetResult with this result again.
      if (status == PGRES_COPY_OUT) break;
    }
  }
  if (error.result_) Fail(std::exchange(error.result_, nullptr), what);
  if (pq_.PQstatus(conn_) != CONNECTION_OK) Lost(OneLine(pq_.PQerrorMessage(conn_)));
  return last;
}

PgResult PgConnection::Exec(const char* sql) {
  if (!usable_) throw StoreUnavailable("PostgreSQL connection lost");
  if (!pq_.PQsendQuery(conn_, sql)) Lost(OneLine(pq_.PQerrorMessage(conn_)));
  return Collect(sql);
}

PgResult PgConnection::RunPrepared(const char* sql, const std::vector<Param>& params) {
  if (!usable_) throw StoreUnavailable("PostgreSQL connection lost");
  const int n = static_cast<int>(params.size());
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    // Prepared statements outlive transactions, rolled back or not: once per connection.
    std::string name = "kura" + std::to_string(prepared_.size() + 1);
    std::vector<Oid> types;
    for (const Param& p : params) types.push_back(p.type);
    if (!pq_.PQsendPrepare(conn_, name.c_str(), sql, n, types.data())) {
      Lost(OneLine(pq_.PQerrorMessage(conn_)));
    }
    Collect(sql);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size());
  std::vector<int> formats(params.size(), kBinary);
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& p = params[i];
    std::string_view bytes = p.owned ? std::string_view(p.bytes) : p.value;
    // A null pointer is SQL NULL to libpq: an empty value gets a real (empty) one.
    values[i] = p.null ? nullptr : (bytes.data() ? bytes.data() : "");
    lengths[i] = static_cast<int>(bytes.size());
  }
  if (!pq_.PQsendQueryPrepared(conn_, it->second.c_str(), n, values.data(), lengths.data(),
                               formats.data(), kBinary)) {
    Lost(OneLine(pq_.PQerrorMessage(conn_)));
  }
  return Collect(sql);
}

namespace {

// The binary COPY format's header (PostgreSQL's "COPY" page, "Binary Format"): a signature,
// 32 bits of flags, and the length of an extension area that follows.
constexpr std::string_view kCopySignature{"PGCOPY\n\377\r\n\0", 11};

[[noreturn]] void Malformed(const char* why) {
  throw StoreError(std::string("postgres: malformed COPY data: ") + why);
}

// Reads `bytes` big-endian bytes at `at` of `data`, which must hold them.
uint64_t Take(std::string_view data, size_t& at, int bytes) {
  if (data.size() - at < static_cast<size_t>(bytes)) Malformed("a row ends early");
  const uint64_t v = ReadBigEndian(data.data() + at, bytes);
  at += static_cast<size_t>(bytes);
  return v;
}

}  // namespace

void PgConnection::CopyOut(const std::string& sql, const std::function<void(CopyRow)>& row) {
  if (!usable()) throw StoreUnavailable("PostgreSQL connection lost");
  if (!pq_.PQsendQuery(conn_, sql.c_str())) Lost(OneLine(pq_.PQerrorMessage(conn_)));
  PgResult started = Collect(sql.c_str());
  if (!started.result_ || pq_.PQresultStatus(started.result_) != PGRES_COPY_OUT) {
    abandoned_ = true;  // it may be copying in
    throw StoreError("postgres: not a COPY to the client: " + sql);
  }
  // One bound for the whole COPY, as for any statement: the server's statement_timeout ends it
  // sooner, however slowly `row` takes the rows.
  const auto deadline = steady_clock::now() + answer_timeout_;
  struct FreeData {
    const LibPq* pq;
    void operator()(char* p) const { pq->PQfreemem(p); }
  };
  std::vector<std::optional<std::string_view>> fields;
  bool header = true;
  for (;;) {
    char* buffer = nullptr;
    const int n = pq_.PQgetCopyData(conn_, &buffer, 1);
    if (n == 0) {  // no whole row received yet
      AwaitInput(deadline);
      continue;
    }
    if (n == -1) break;  // the rows ended; the statement's result follows
    if (n < 0) Lost(OneLine(pq_.PQerrorMessage(conn_)));
    const std::unique_ptr<char, FreeData> owned(buffer, FreeData{&pq_});
    // libpq returns one CopyData message at a time, and the server sends one row per message,
    // the header in front of the first.
    const std::string_view data(buffer, static_cast<size_t>(n));
    try {
      size_t at = 0;
      if (header) {
        if (!data.starts_with(kCopySignature)) Malformed("no binary COPY signature");
        at = kCopySignature.size();
        Take(data, at, 4);  // flags: none that change the rows' layout are defined
        const uint64_t extension = Take(data, at, 4);
        if (extension > data.size() - at) Malformed("the header ends early");
        at += static_cast<size_t>(extension);
        header = false;
        if (at == data.size()) continue;
      }
      const auto count = static_cast<int16_t>(Take(data, at, 2));
      if (count == -1) continue;  // the trailer
      fields.clear();
      for (int16_t f = 0; f < count; ++f) {
        const auto length = static_cast<int32_t>(Take(data, at, 4));
        if (length == -1) {
          fields.emplace_back(std::nullopt);
          continue;
        }
        if (length < 0 || static_cast<size_t>(length) > data.size() - at) {
          Malformed("a field is longer than its row");
        }
        fields.emplace_back(data.substr(at, static_cast<size_t>(length)));
        at += static_cast<size_t>(length);
      }
      if (at != data.size()) Malformed("a row is longer than its fields");
      row(CopyRow(fields));
    } catch (...) {
      // The server goes on sending rows nobody reads: the connection cannot serve another
      // statement (nor a ROLLBACK) before all of them came, so it is closed.
      abandoned_ = true;
      throw;
    }
  }
  Collect(sql.c_str());  // the COPY's end, or the error that ended it
}

// ---- PgQuery

PgQuery& PgQuery::Bind(std::string_view text) {
  params_.push_back({kTextOid, text, false, false, {}});
  return *this;
}

PgQuery& PgQuery::BindBytes(std::string_view bytes) {
  params_.push_back({kByteaOid, bytes, false, false, {}});
  return *this;
}

PgQuery& PgQuery::BindNullable(std::string_view text) {
  params_.push_back({kTextOid, text, text.empty(), false, {}});
  return *this;
}

PgQuery& PgQuery::Bind(int64_t value) {
  PgConnection::Param p{kInt8Oid, {}, false, true, {}};
  AppendBigEndian(p.bytes, static_cast<uint64_t>(value), 8);
  params_.push_back(std::move(p));
  return *this;
}

PgQuery& PgQuery::BindBool(bool value) {
  params_.push_back({kBoolOid, {}, false, true, std::string(1, value ? '\1' : '\0')});
  return *this;
}

PgQuery& PgQuery::BindTextArray(const std::vector<std::string>& texts) {
  // The binary array format: dimensions, a has-nulls flag, the element type, each dimension's
  // size and lower bound, then each element as its length and bytes.
  PgConnection::Param p{kTextArrayOid, {}, false, true, {}};
  AppendBigEndian(p.bytes, 1, 4);
  AppendBigEndian(p.bytes, 0, 4);
  AppendBigEndian(p.bytes, kTextOid, 4);
  AppendBigEndian(p.bytes, texts.size(), 4);
  AppendBigEndian(p.bytes, 1, 4);
  for (const std::string& t : texts) {
    AppendBigEndian(p.bytes, t.size(), 4);
    p.bytes += t;
  }
  params_.push_back(std::move(p));
  return *this;
}

PgResult PgQuery::Run() {
  return c_.RunPrepared(sql_, params_);
}

// ---- PgDatabase

PgDatabase::PgDatabase(std::string url, PgOptions options)
    : url_(std::move(url)), options_(std::move(options)) {
  if (options_.max_connections == 0) throw StoreError("postgres: max_connections must be > 0");
}

PgDatabase::~PgDatabase() = default;

std::shared_ptr<PgDatabase> PgDatabase::Connect(std::string url, PgOptions options) {
  Libpq();  // a missing libpq is told at once, before any request
  return std::shared_ptr<PgDatabase>(new PgDatabase(std::move(url), std::move(options)));
}

std::shared_ptr<PgDatabase> PgDatabase::Open(std::string url, PgOptions options) {
  std::shared_ptr<PgDatabase> db = Connect(std::move(url), std::move(options));
  if (db->options_.apply_migrations) pg_schema::Migrate(*db);
  pg_schema::RequireLatest(*db);
  return db;
}

PgDatabase::Lease::~Lease() {
  if (c_) db_->Release(std::move(c_));
}

PgDatabase::Lease PgDatabase::Acquire() {
  std::unique_lock lock(mu_);
  const auto deadline = steady_clock::now() + options_.acquire_timeout;
  for (;;) {
    if (!idle_.empty()) {
      std::unique_ptr<PgConnection> c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
    if (open_ < options_.max_connections) {
      const auto now = steady_clock::now();
      if (now < next_connect_) {
        const auto wait = std::chrono::duration_cast<milliseconds>(next_connect_ - now);
        throw StoreUnavailable(last_connect_error_ + " (next attempt in " +
                               std::to_string(wait.count()) + " ms)");
      }
      ++open_;  // the slot is ours while connecting, without the lock
      lock.unlock();
      try {
        auto c = std::make_unique<PgConnection>(url_, options_);
        lock.lock();
        connect_failures_ = 0;
        next_connect_ = {};
        return Lease(this, std::move(c));
      } catch (const StoreUnavailable& e) {
        lock.lock();
        --open_;
        // 100 ms, doubling, at most 5 s between attempts while the database refuses.
        connect_failures_ = std::min(connect_failures_ + 1, 16);
        const milliseconds backoff = std::min(
            milliseconds(100) * (1 << std::min(connect_failures_ - 1, 6)), milliseconds(5000));
        next_connect_ = steady_clock::now() + backoff;
        last_connect_error_ = e.what();
        freed_.notify_one();
        throw;
      } catch (...) {
        lock.lock();
        --open_;
        freed_.notify_one();
        throw;
      }
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.max_connections) {
      throw StoreUnavailable("all " + std::to_string(options_.max_connections) +
                             " PostgreSQL connections busy for " +
                             std::to_string(options_.acquire_timeout.count()) + " ms");
    }
  }
}

void PgDatabase::Release(std::unique_ptr<PgConnection> c) {
  // A connection left inside a transaction (its ROLLBACK failed) is closed: the server then
  // rolls the transaction back.
  const bool keep = c->usable() && !c->InTransaction();
  std::unique_ptr<PgConnection> closing;
  {
    std::lock_guard lock(mu_);
    if (keep) {
      idle_.push_back(std::move(c));
    } else {
      --open_;
      closing = std::move(c);
    }
  }
  freed_.notify_one();
}

void PgDatabase::DropIdle() {
  std::vector<std::unique_ptr<PgConnection>> closing;
  {
    std::lock_guard lock(mu_);
    closing.swap(idle_);
    open_ -= closing.size();
  }
  freed_.notify_all();
}

void PgDatabase::RunTransaction(const std::function<void(PgConnection&)>& body) {
  bool replaced_dead = false;
  for (int conflicts = 0;;) {
    Lease c = Acquire();
    try {
      c->Exec("BEGIN");
    } catch (const StoreUnavailable&) {
      // Found dead before anything was sent (the server restarted, or closed it while idle):
      // nothing was done, so a fresh connection may try once. Not after a timeout: the caller
      // has waited long enough.
      if (c->usable() || c->timed_out() || replaced_dead) throw;
      replaced_dead = true;
      DropIdle();
      continue;
    }
    auto rollback = [&] {
      if (!c->usable()) return;  // the server rolls back a transaction whose connection died
      try {
        c->Exec("ROLLBACK");
      } catch (const StoreError&) {
        // Release closes a connection still in a transaction.
      }
    };
    try {
      body(*c);
      c->Exec("COMMIT");
      return;
    } catch (const TransactionConflict& e) {
      rollback();
      if (++conflicts < 3) continue;
      throw StoreUnavailable(e.what());
    } catch (...) {
      rollback();
      if (c->lost()) DropIdle();
      throw;
    }
  }
}

void PgDatabase::RunRead(const std::function<void(PgConnection&)>& body) {
  for (bool retried = false;; retried = true) {
    Lease c = Acquire();
    try {
      body(*c);
      return;
    } catch (const StoreUnavailable&) {
      // A read changes nothing: once more on a fresh connection if this one was lost (not if
      // it timed out: the caller has waited long enough).
      if (c->usable() || c->timed_out() || retried) throw;
      DropIdle();
    }
  }
}

}  // namespace kura::store
