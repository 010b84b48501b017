// MetaStore on an embedded SQLite database in WAL mode, one connection per thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "store/meta_store.h"
#include "store/sqlite_db.h"

namespace kura::store {

class SqliteMetaStore final : public MetaStore {
 public:
  // Opens (creating it and its schema if needed) the database file at `path`.
  // Throws StoreError if it cannot.
  explicit SqliteMetaStore(std::string path);
  SqliteMetaStore(const SqliteMetaStore&) = delete;
  SqliteMetaStore& operator=(const SqliteMetaStore&) = delete;

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
  LeaseOutcome LeaseUpload(std::string_view id, const RepoKey& repo, std::string_view holder,
                           int64_t seconds, UploadSession* session) override;
  bool RenewUploadLease(std::string_view id, const RepoKey& repo, std::string_view holder,
                        int64_t seconds) override;
  bool SetUploadOffset(std::string_view id, const RepoKey& repo, std::string_view holder,
                       uint64_t offset, std::string_view state) override;
  void ReleaseUploadLease(std::string_view id, std::string_view holder) override;
  std::vector<std::string> ExpireUploads(int64_t idle_seconds) override;
  std::vector<std::string> ListUploadIds() override;

  // True for a database written before instance data was keyed by incarnation: its rows are
  // keyed by instance name, the plain registry's by "default". Such a database must be
  // migrated (MigrateToIncarnationKeys) before anything else is called.
  bool KeyedByInstanceName();
  // Re-keys such a database, in one transaction: the rows of each instance name in
  // `incarnation_of` go to its incarnation; the rows of "default", when no instance of that
  // name is in `incarnation_of`, to kPlainRegistryKey; the rows of any other name (left by an
  // instance deleted or half-deleted before) are deleted. No-op on a database keyed by
  // incarnation already.
  void MigrateToIncarnationKeys(const std::map<std::string, std::string>& incarnation_of);

 private:
  SqliteDatabase db_;
};

}  // namespace kura::store
