// AdminStore in the SQLite database file that also holds the registry metadata (kura serve keeps
// both in data_dir/kura.db), one connection per thread.
#pragma once

#include <map>
#include <string>

#include "store/admin_store.h"
#include "store/sqlite_db.h"

namespace kura::store {

class SqliteAdminStore final : public AdminStore {
 public:
  // Opens (creating it and its schema if needed) the database file at `path`.
  // Throws StoreError if it cannot.
  explicit SqliteAdminStore(std::string path);
  SqliteAdminStore(const SqliteAdminStore&) = delete;
  SqliteAdminStore& operator=(const SqliteAdminStore&) = delete;

  WorldRows ReadWorldRows(const std::vector<std::string_view>& kinds,
                          const std::function<void(const WorldRow&)>& visit) override;
  WorldRows LoadWorldChanges(uint64_t revision) override;
  bool SaveWorldChanges(const std::vector<WorldRow>& changes, uint64_t expected_revision) override;
  LoginFailures RecordLoginFailure(std::string_view key, int64_t window_seconds) override;
  LoginFailures FindLoginFailures(std::string_view key) override;
  void ClearLoginFailures(std::string_view key) override;
  uint64_t WorldRevision() override;
  void SetPassword(std::string_view instance, std::string_view user,
                   std::string_view hash) override;
  void AddTemporaryPassword(std::string_view instance, std::string_view user, std::string_view hash,
                            int64_t expires_at, int64_t now) override;
  std::vector<StoredCredential> FindCredentials(std::string_view instance, std::string_view user,
                                                int64_t now) override;
  std::vector<std::string> ListUsers(std::string_view instance) override;
  void DeleteInstanceState(std::string_view instance) override;
  std::vector<std::string> ListInstanceKeys() override;
  void PutNamespace(std::string_view instance, const StoredNamespace& ns) override;
  std::optional<StoredNamespace> FindNamespace(std::string_view instance,
                                               std::string_view name) override;
  std::vector<StoredNamespace> ListNamespaces(std::string_view instance) override;
  std::string Secret(std::string_view name, const std::function<std::string()>& make) override;

  // As SqliteMetaStore::KeyedByInstanceName and MigrateToIncarnationKeys, for credentials and
  // namespaces: rows of a name in `incarnation_of` go to its incarnation, all others are
  // deleted.
  bool KeyedByInstanceName();
  void MigrateToIncarnationKeys(const std::map<std::string, std::string>& incarnation_of);

 private:
  SqliteDatabase db_;
};

}  // namespace kura::store
