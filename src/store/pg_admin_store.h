// AdminStore on the PostgreSQL database of the cluster (pg_db.h), usually the one PgMetaStore
// uses: an instance key retired by either store is refused by both. Same contract as
// SqliteAdminStore (admin_store.h) and the same conformance suite.
#pragma once

#include <memory>

#include "store/admin_store.h"
#include "store/pg_db.h"

namespace kura::store {

class PgAdminStore final : public AdminStore {
 public:
  // The store on `db` (PgDatabase::Open, whose checks it relies on), which a PgMetaStore may
  // share.
  explicit PgAdminStore(std::shared_ptr<PgDatabase> db);
  PgAdminStore(const PgAdminStore&) = delete;
  PgAdminStore& operator=(const PgAdminStore&) = delete;

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

 private:
  std::shared_ptr<PgDatabase> db_;
};

}  // namespace kura::store
