// MetaStore on a PostgreSQL database that every node of a cluster shares (pg_db.h: the pool,
// timeouts, reconnection; pg_schema.h: the schema and its migrations). Same contract as
// SqliteMetaStore (meta_store.h), tombstones included (pg_instance_keys.h), and the same
// conformance suite.
#pragma once

#include <memory>

#include "store/meta_store.h"
#include "store/pg_db.h"

namespace kura::store {

class PgMetaStore final : public MetaStore {
 public:
  // The store on `db` (PgDatabase::Open, whose checks it relies on), which a PgAdminStore may
  // share.
  explicit PgMetaStore(std::shared_ptr<PgDatabase> db);
  PgMetaStore(const PgMetaStore&) = delete;
  PgMetaStore& operator=(const PgMetaStore&) = delete;

  std::optional<uint64_t> LinkedBlobSize(const RepoKey& repo, std::string_view digest) override;
  void LinkBlob(const RepoKey& repo, std::string_view digest, uint64_t size) override;
  bool UnlinkBlob(const RepoKey& repo, std::string_view digest) override;
  std::optional<std::string> PutManifest(const RepoKey& repo, const ManifestRecord& m,
                                         std::string_view tag) override;
  std::optional<StoredManifest> GetManifest(const RepoKey& repo, std::string_view digest) override;
  std::optional<StoredManifest> GetTaggedManifest(const RepoKey& repo,
                                                  std::string_view tag) override;
  bool DeleteManifest(const RepoKey& repo, std::string_view digest) override;
  bool DeleteTag(const RepoKey& repo, std::string_view tag) override;
  bool RepositoryExists(const RepoKey& repo) override;
  std::vector<std::string> ListTags(const RepoKey& repo, std::string_view after,
                                    size_t limit) override;
  std::vector<std::string> ListRepositories(std::string_view instance, std::string_view after,
                                            size_t limit) override;
  std::vector<Referrer> ListReferrers(const RepoKey& repo, std::string_view digest) override;
  void DeleteInstance(std::string_view instance) override;
  std::vector<std::string> ListInstanceKeys() override;
  void CreateUpload(const UploadSession& session) override;
  std::optional<UploadSession> FindUpload(std::string_view id) override;
  void DeleteUpload(std::string_view id) override;
  std::vector<std::string> ExpireUploads(int64_t idle_seconds) override;
  std::vector<std::string> ListUploadIds() override;
  LeaseOutcome LeaseUpload(std::string_view id, const RepoKey& repo, std::string_view holder,
                           int64_t seconds, UploadSession* session) override;
  bool RenewUploadLease(std::string_view id, const RepoKey& repo, std::string_view holder,
                        int64_t seconds) override;
  bool SetUploadOffset(std::string_view id, const RepoKey& repo, std::string_view holder,
                       uint64_t offset, std::string_view state) override;
  void ReleaseUploadLease(std::string_view id, std::string_view holder) override;

 private:
  std::shared_ptr<PgDatabase> db_;
};

}  // namespace kura::store
