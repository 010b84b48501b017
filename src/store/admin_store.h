// The state of the instances side, kept in the same SQLite database as the registry metadata:
// the exposure World (as one JSON document, replaced whole on every change), instance
// credentials (password hashes only, never passwords), namespaces, and server secrets.
//
// Credentials and namespaces are keyed by the instance key, its incarnation, never by its name
// (see meta_store.h): what a deleted instance had never reaches a later one of the same name.
//
// Thread-safe; each method is one transaction. I/O failures throw StoreError; a write for a key
// retired by DeleteInstanceState (or by SqliteMetaStore::DeleteInstance on the same database
// file) throws InstanceGone.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite_db.h"

namespace kura::store {

struct StoredCredential {
  std::string user;
  std::string hash;        // crypt(3) hash (bcrypt)
  int64_t expires_at = 0;  // seconds since the epoch; 0 for a password that does not expire
};

struct StoredNamespace {
  std::string name;
  bool is_public = false;
};

class SqliteAdminStore {
 public:
  // Opens (creating it and its schema if needed) the database file at `path`.
  explicit SqliteAdminStore(std::string path);

  // The saved World document, or nullopt before the first save.
  std::optional<std::string> LoadWorld();
  void SaveWorld(std::string_view document);

  // Sets the permanent password hash of `user` of `instance`, replacing the previous one.
  void SetPassword(std::string_view instance, std::string_view user, std::string_view hash);
  // Adds a temporary password that expires at `expires_at`; expired ones are purged first.
  void AddTemporaryPassword(std::string_view instance, std::string_view user,
                            std::string_view hash, int64_t expires_at, int64_t now);
  // Every credential of `user` of `instance` still valid at `now` (permanent first).
  std::vector<StoredCredential> FindCredentials(std::string_view instance, std::string_view user,
                                                int64_t now);
  // Every user with a permanent password, for listing.
  std::vector<std::string> ListUsers(std::string_view instance);
  // Retires the instance key for good and forgets every credential and namespace under it, in
  // one transaction (when the instance is deleted).
  void DeleteInstanceState(std::string_view instance);
  // Every instance key that has a credential or a namespace, in lexical order.
  std::vector<std::string> ListInstanceKeys();

  // As SqliteMetaStore::KeyedByInstanceName and MigrateToIncarnationKeys, for credentials and
  // namespaces: rows of a name in `incarnation_of` go to its incarnation, all others are
  // deleted.
  bool KeyedByInstanceName();
  void MigrateToIncarnationKeys(const std::map<std::string, std::string>& incarnation_of);

  // Creates or updates a namespace (the first path component of repository names).
  void PutNamespace(std::string_view instance, const StoredNamespace& ns);
  std::optional<StoredNamespace> FindNamespace(std::string_view instance, std::string_view name);
  std::vector<StoredNamespace> ListNamespaces(std::string_view instance);

  // The secret called `name`, created from `make()` and stored on first use.
  template <class MakeSecret>
  std::string Secret(std::string_view name, MakeSecret make) {
    if (auto s = FindSecret(name)) return *s;
    return PutSecretIfAbsent(name, make());
  }

 private:
  std::optional<std::string> FindSecret(std::string_view name);
  // Stores value unless a secret of that name exists; returns the stored one.
  std::string PutSecretIfAbsent(std::string_view name, std::string_view value);

  SqliteDatabase db_;
};

}  // namespace kura::store
