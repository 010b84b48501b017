// The state of the instances side: the exposure World (one row per thing, each change writing
// just the rows it changed), instance credentials (password hashes only, never passwords),
// namespaces, and server secrets.
//
// Credentials and namespaces are keyed by the instance key, its incarnation, never by its name
// (see meta_store.h): what a deleted instance had never reaches a later one of the same name.
//
// Thread-safe: every method may be called from any thread at once, and from several nodes that
// share one database. Each method is one transaction: after a crash the store is as it was before
// or after the call, never in between, and a call that returned has been made durable. I/O
// failures throw StoreError (StoreUnavailable when the database cannot be reached); a write for
// a key retired by DeleteInstanceState (or by MetaStore::DeleteInstance on the same database)
// throws InstanceGone.
//
// Implementations: SqliteAdminStore (sqlite_admin_store.h) and PgAdminStore (pg_admin_store.h).
// Both pass the one conformance suite, tests/unit/store/admin_store_test.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/meta_store.h"

namespace kura::store {

struct StoredCredential {
  std::string user;
  std::string hash;        // crypt(3) hash (bcrypt)
  int64_t expires_at = 0;  // seconds since the epoch; 0 for a password that does not expire
};

// One row of the saved World: a thing of kind `kind` ("instance", "allow", ...) named `key`,
// and its body (JSON), or no body for a thing that was removed.
struct WorldRow {
  std::string kind;
  std::string key;
  std::optional<std::string> body;

  friend bool operator==(const WorldRow&, const WorldRow&) = default;
};

struct WorldRows {
  std::vector<WorldRow> rows;
  uint64_t revision = 0;
  bool complete = true;
  std::optional<std::string> legacy_document;
};

// How many revisions of removals a store keeps (see AdminStore::LoadWorldChanges).
inline constexpr uint64_t kWorldChangesKept = 1000;

struct StoredNamespace {
  std::string name;
  bool is_public = false;
};

class AdminStore {
 public:
  virtual ~AdminStore() = default;

  // ---- The exposure World, row by row (admin/world_rows.h says what the rows are).
  //
  // Every save is a revision: a number that grows by one with each save, by any node sharing
  // the database (0 before the first). A row remembers the revision that last wrote it; a
  // removed row stays as a tombstone (no body) for a while, so that a node can ask for just
  // what changed since the revision it has. Tombstones older than kWorldChangesKept revisions
  // are dropped; a node further behind than that loads every row again.

  // The current revision. One indexed read, cheap enough to poll every few hundred
  // milliseconds.
  virtual uint64_t WorldRevision() = 0;
  // The live rows of each of `kinds`, kind by kind in that order, each kind's in key order (no
  // kinds: every row, in (kind, key) order), handed to `visit` as they are read and not kept
  // (100,000 instances are a million rows, never all in memory at once at start-up); and the
  // revision they are, read in the same snapshot. A database written by a kura that saved the
  // World as one document, and not saved since, has no rows: then `legacy_document` holds that
  // document, and `revision` its revision. The result's `rows` stays empty. What `visit` throws
  // ends the read and is thrown.
  virtual WorldRows ReadWorldRows(const std::vector<std::string_view>& kinds,
                                  const std::function<void(const WorldRow&)>& visit) = 0;
  // Every live row, kept: ReadWorldRows of every kind.
  WorldRows LoadWorldRows() {
    std::vector<WorldRow> rows;
    WorldRows out = ReadWorldRows({}, [&](const WorldRow& row) { rows.push_back(row); });
    out.rows = std::move(rows);
    return out;
  }
  // The rows written after `revision` (removed ones without a body), in (kind, key) order, and
  // the revision they bring the World to. `complete` is false when some of those changes are
  // no longer kept (the caller is too far behind): load every row instead.
  virtual WorldRows LoadWorldChanges(uint64_t revision) = 0;
  // Writes `changes` (a row without a body removes the row) as revision expected_revision + 1,
  // if WorldRevision is still `expected_revision`, in one transaction; returns false, writing
  // nothing, when another save came first. How two nodes changing the World at once both keep
  // their change: the loser loads what changed, applies its change again and retries
  // (admin/exposure_state.h). The first save of a database that holds a legacy document
  // replaces it. A kind or key may not be empty; a key of one kind is given at most once.
  virtual bool SaveWorldChanges(const std::vector<WorldRow>& changes,
                                uint64_t expected_revision) = 0;

  // Sets the permanent password hash of `user` of `instance`, replacing the previous one.
  virtual void SetPassword(std::string_view instance, std::string_view user,
                           std::string_view hash) = 0;
  // Adds a temporary password that expires at `expires_at`; expired ones are purged first.
  virtual void AddTemporaryPassword(std::string_view instance, std::string_view user,
                                    std::string_view hash, int64_t expires_at, int64_t now) = 0;
  // Every credential of `user` of `instance` still valid at `now` (permanent first).
  virtual std::vector<StoredCredential> FindCredentials(std::string_view instance,
                                                        std::string_view user, int64_t now) = 0;
  // Every user with a permanent password, in lexical order, for listing.
  virtual std::vector<std::string> ListUsers(std::string_view instance) = 0;
  // Retires the instance key for good and forgets every credential and namespace under it, in
  // one transaction (when the instance is deleted). Throws StoreError for kPlainRegistryKey.
  virtual void DeleteInstanceState(std::string_view instance) = 0;
  // Every instance key that has a credential or a namespace, in lexical order.
  virtual std::vector<std::string> ListInstanceKeys() = 0;

  // Creates or updates a namespace (the first path component of repository names).
  virtual void PutNamespace(std::string_view instance, const StoredNamespace& ns) = 0;
  virtual std::optional<StoredNamespace> FindNamespace(std::string_view instance,
                                                       std::string_view name) = 0;
  // Every namespace of the instance, in lexical order.
  virtual std::vector<StoredNamespace> ListNamespaces(std::string_view instance) = 0;

  // Failed logins counted across every node sharing the database, so that a guesser spreading
  // its guesses over the nodes meets the same limit as on one (server/shared_login_limits.h;
  // each node keeps its own finer count too, server/login_throttle.h). `key` names a source or
  // a user; a window of `window_seconds` starts at the first failure after the last window
  // ended. Rows of ended windows are removed as new failures come.
  struct LoginFailures {
    int failures = 0;          // in the running window
    int64_t seconds_left = 0;  // of it; 0 when none runs
  };
  // Adds a failure for `key`; returns the count with it.
  virtual LoginFailures RecordLoginFailure(std::string_view key, int64_t window_seconds) = 0;
  // The failures of `key` in its running window.
  virtual LoginFailures FindLoginFailures(std::string_view key) = 0;
  // Forgets the failures of `key` (a good login of that user).
  virtual void ClearLoginFailures(std::string_view key) = 0;

  // The secret called `name`. On first use it is made by `make()` and stored; when two callers
  // (threads or nodes) race on first use, one value is stored and both get that one. `make` may
  // be called and its value dropped.
  virtual std::string Secret(std::string_view name, const std::function<std::string()>& make) = 0;
};

}  // namespace kura::store
