#include "store/pg_meta_store.h"

#include <set>

#include "store/pg_instance_keys.h"

namespace kura::store {
namespace {

void RefuseOversizedState(std::string_view state) {
  if (state.size() > kMaxUploadStateBytes) {
    throw StoreError("upload state of " + std::to_string(state.size()) + " bytes (at most " +
                     std::to_string(kMaxUploadStateBytes) + ")");
  }
}

void EnsureRepository(PgConnection& c, const RepoKey& repo) {
  PgQuery(c, "INSERT INTO repositories(instance, name) VALUES($1, $2) ON CONFLICT DO NOTHING")
      .Bind(repo.instance)
      .Bind(repo.name)
      .Run();
}

// The first of `wanted` that is not among the rows `present` returned (column 0), if any.
std::optional<std::string> FirstMissing(const std::vector<std::string>& wanted,
                                        const PgResult& present) {
  std::set<std::string, std::less<>> found;
  for (int i = 0; i < present.rows(); ++i) found.insert(present.Text(i, 0));
  for (const std::string& w : wanted) {
    if (!found.contains(w)) return w;
  }
  return std::nullopt;
}

std::vector<std::string> Column(const PgResult& r) {
  std::vector<std::string> out;
  out.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.Text(i, 0));
  return out;
}

}  // namespace

PgMetaStore::PgMetaStore(std::shared_ptr<PgDatabase> db) : db_(std::move(db)) {}

std::optional<uint64_t> PgMetaStore::LinkedBlobSize(const RepoKey& repo, std::string_view digest) {
  return db_->Read([&](PgConnection& c) -> std::optional<uint64_t> {
    PgResult r = PgQuery(c,
                         "SELECT size FROM repository_blobs "
                         "WHERE instance = $1 AND repo = $2 AND digest = $3")
                     .Bind(repo.instance)
                     .Bind(repo.name)
                     .Bind(digest)
                     .Run();
    if (r.rows() == 0) return std::nullopt;
    return static_cast<uint64_t>(r.Int(0, 0));
  });
}

void PgMetaStore::LinkBlob(const RepoKey& repo, std::string_view digest, uint64_t size) {
  db_->Transact([&](PgConnection& c) {
    pg_instance_keys::LockForWrite(c, repo.instance);
    EnsureRepository(c, repo);
    PgQuery(c,
            "INSERT INTO repository_blobs(instance, repo, digest, size) VALUES($1, $2, $3, $4) "
            "ON CONFLICT DO NOTHING")
        .Bind(repo.instance)
        .Bind(repo.name)
        .Bind(digest)
        .Bind(static_cast<int64_t>(size))
        .Run();
  });
}

bool PgMetaStore::UnlinkBlob(const RepoKey& repo, std::string_view digest) {
  return db_->Transact([&](PgConnection& c) {
    return PgQuery(c,
                   "DELETE FROM repository_blobs WHERE instance = $1 AND repo = $2 AND "
                   "digest = $3")
               .Bind(repo.instance)
               .Bind(repo.name)
               .Bind(digest)
               .Run()
               .Affected() > 0;
  });
}

std::optional<std::string> PgMetaStore::PutManifest(const RepoKey& repo, const ManifestRecord& m,
                                                    std::string_view tag) {
  return db_->Transact([&](PgConnection& c) -> std::optional<std::string> {
    pg_instance_keys::LockForWrite(c, repo.instance);
    // FOR SHARE: a blob link or child manifest found here cannot be deleted before this
    // transaction commits (UnlinkBlob, DeleteManifest wait for it).
    if (!m.blobs.empty()) {
      PgResult linked = PgQuery(c,
                                "SELECT digest FROM repository_blobs WHERE instance = $1 AND "
                                "repo = $2 AND digest = ANY($3) FOR SHARE")
                            .Bind(repo.instance)
                            .Bind(repo.name)
                            .BindTextArray(m.blobs)
                            .Run();
      if (auto missing = FirstMissing(m.blobs, linked)) return missing;
    }
    if (!m.manifests.empty()) {
      PgResult present = PgQuery(c,
                                 "SELECT digest FROM manifests WHERE instance = $1 AND "
                                 "repo = $2 AND digest = ANY($3) FOR SHARE")
                             .Bind(repo.instance)
                             .Bind(repo.name)
                             .BindTextArray(m.manifests)
                             .Run();
      if (auto missing = FirstMissing(m.manifests, present)) return missing;
    }
    EnsureRepository(c, repo);
    PgQuery(c,
            "INSERT INTO manifests(instance, repo, digest, media_type, body, subject, "
            "artifact_type, annotations) VALUES($1, $2, $3, $4, $5, $6, $7, $8) "
            "ON CONFLICT (instance, repo, digest) DO UPDATE SET media_type = "
            "EXCLUDED.media_type, body = EXCLUDED.body, subject = EXCLUDED.subject, "
            "artifact_type = EXCLUDED.artifact_type, annotations = EXCLUDED.annotations")
        .Bind(repo.instance)
        .Bind(repo.name)
        .Bind(m.digest)
        .Bind(m.media_type)
        .BindBytes(m.body)
        .BindNullable(m.subject)
        .BindBytes(m.artifact_type)
        .BindBytes(m.annotations_json)
        .Run();
    if (!tag.empty()) {
      PgQuery(c,
              "INSERT INTO tags(instance, repo, tag, digest) VALUES($1, $2, $3, $4) "
              "ON CONFLICT (instance, repo, tag) DO UPDATE SET digest = EXCLUDED.digest")
          .Bind(repo.instance)
          .Bind(repo.name)
          .Bind(tag)
          .Bind(m.digest)
          .Run();
    }
    return std::nullopt;
  });
}

std::optional<StoredManifest> PgMetaStore::GetManifest(const RepoKey& repo,
                                                       std::string_view digest) {
  return db_->Read([&](PgConnection& c) -> std::optional<StoredManifest> {
    PgResult r = PgQuery(c,
                         "SELECT media_type, body FROM manifests "
                         "WHERE instance = $1 AND repo = $2 AND digest = $3")
                     .Bind(repo.instance)
                     .Bind(repo.name)
                     .Bind(digest)
                     .Run();
    if (r.rows() == 0) return std::nullopt;
    return StoredManifest{std::string(digest), r.Text(0, 0), r.Text(0, 1)};
  });
}

std::optional<StoredManifest> PgMetaStore::GetTaggedManifest(const RepoKey& repo,
                                                             std::string_view tag) {
  return db_->Read([&](PgConnection& c) -> std::optional<StoredManifest> {
    PgResult r = PgQuery(c,
                         "SELECT m.digest, m.media_type, m.body FROM tags t JOIN manifests m "
                         "ON m.instance = t.instance AND m.repo = t.repo AND m.digest = t.digest "
                         "WHERE t.instance = $1 AND t.repo = $2 AND t.tag = $3")
                     .Bind(repo.instance)
                     .Bind(repo.name)
                     .Bind(tag)
                     .Run();
    if (r.rows() == 0) return std::nullopt;
    return StoredManifest{r.Text(0, 0), r.Text(0, 1), r.Text(0, 2)};
  });
}

bool PgMetaStore::DeleteManifest(const RepoKey& repo, std::string_view digest) {
  return db_->Transact([&](PgConnection& c) {
    const int64_t deleted =
        PgQuery(c, "DELETE FROM manifests WHERE instance = $1 AND repo = $2 AND digest = $3")
            .Bind(repo.instance)
            .Bind(repo.name)
            .Bind(digest)
            .Run()
            .Affected();
    if (deleted == 0) return false;
    PgQuery(c, "DELETE FROM tags WHERE instance = $1 AND repo = $2 AND digest = $3")
        .Bind(repo.instance)
        .Bind(repo.name)
        .Bind(digest)
        .Run();
    return true;
  });
}

bool PgMetaStore::DeleteTag(const RepoKey& repo, std::string_view tag) {
  return db_->Transact([&](PgConnection& c) {
    return PgQuery(c, "DELETE FROM tags WHERE instance = $1 AND repo = $2 AND tag = $3")
               .Bind(repo.instance)
               .Bind(repo.name)
               .Bind(tag)
               .Run()
               .Affected() > 0;
  });
}

bool PgMetaStore::RepositoryExists(const RepoKey& repo) {
  return db_->Read([&](PgConnection& c) {
    return PgQuery(c, "SELECT 1 FROM repositories WHERE instance = $1 AND name = $2")
               .Bind(repo.instance)
               .Bind(repo.name)
               .Run()
               .rows() > 0;
  });
}

std::vector<std::string> PgMetaStore::ListTags(const RepoKey& repo, std::string_view after,
                                               size_t limit) {
  return db_->Read([&](PgConnection& c) {
    return Column(PgQuery(c,
                          "SELECT tag FROM tags WHERE instance = $1 AND repo = $2 AND tag > $3 "
                          "ORDER BY tag LIMIT $4")
                      .Bind(repo.instance)
                      .Bind(repo.name)
                      .Bind(after)
                      .Bind(static_cast<int64_t>(limit))
                      .Run());
  });
}

std::vector<std::string> PgMetaStore::ListRepositories(std::string_view instance,
                                                       std::string_view after, size_t limit) {
  return db_->Read([&](PgConnection& c) {
    return Column(PgQuery(c,
                          "SELECT name FROM repositories WHERE instance = $1 AND name > $2 "
                          "ORDER BY name LIMIT $3")
                      .Bind(instance)
                      .Bind(after)
                      .Bind(static_cast<int64_t>(limit))
                      .Run());
  });
}

std::vector<Referrer> PgMetaStore::ListReferrers(const RepoKey& repo, std::string_view digest) {
  return db_->Read([&](PgConnection& c) {
    PgResult r = PgQuery(c,
                         "SELECT media_type, digest, length(body), artifact_type, annotations "
                         "FROM manifests WHERE instance = $1 AND repo = $2 AND subject = $3 "
                         "ORDER BY digest")
                     .Bind(repo.instance)
                     .Bind(repo.name)
                     .Bind(digest)
                     .Run();
    std::vector<Referrer> out;
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(Referrer{r.Text(i, 0), r.Text(i, 1), static_cast<uint64_t>(r.Int(i, 2)),
                             r.Text(i, 3), r.Text(i, 4)});
    }
    return out;
  });
}

void PgMetaStore::DeleteInstance(std::string_view instance) {
  db_->Transact([&](PgConnection& c) {
    pg_instance_keys::Retire(c, instance);
    PgQuery(c, "DELETE FROM tags WHERE instance = $1").Bind(instance).Run();
    PgQuery(c, "DELETE FROM manifests WHERE instance = $1").Bind(instance).Run();
    PgQuery(c, "DELETE FROM repository_blobs WHERE instance = $1").Bind(instance).Run();
    PgQuery(c, "DELETE FROM repositories WHERE instance = $1").Bind(instance).Run();
    PgQuery(c, "DELETE FROM uploads WHERE instance = $1").Bind(instance).Run();
  });
}

std::vector<std::string> PgMetaStore::ListInstanceKeys() {
  return db_->Read([&](PgConnection& c) {
    return Column(PgQuery(c,
                          "SELECT instance FROM repositories UNION SELECT instance FROM uploads "
                          "ORDER BY instance")
                      .Run());
  });
}

void PgMetaStore::CreateUpload(const UploadSession& u) {
  RefuseOversizedState(u.state);
  db_->Transact([&](PgConnection& c) {
    pg_instance_keys::LockForWrite(c, u.repo.instance);
    PgQuery(c,
            "INSERT INTO uploads(id, instance, repo, byte_offset, state, touched_at) "
            "VALUES($1, $2, $3, $4, $5, kura_unixepoch())")
        .Bind(u.id)
        .Bind(u.repo.instance)
        .Bind(u.repo.name)
        .Bind(static_cast<int64_t>(u.offset))
        .BindBytes(u.state)
        .Run();
  });
}

std::optional<UploadSession> PgMetaStore::FindUpload(std::string_view id) {
  return db_->Read([&](PgConnection& c) -> std::optional<UploadSession> {
    PgResult r = PgQuery(c, "SELECT instance, repo, byte_offset, state FROM uploads WHERE id = $1")
                     .Bind(id)
                     .Run();
    if (r.rows() == 0) return std::nullopt;
    return UploadSession{std::string(id), RepoKey{r.Text(0, 0), r.Text(0, 1)},
                         static_cast<uint64_t>(r.Int(0, 2)), r.Text(0, 3)};
  });
}

void PgMetaStore::DeleteUpload(std::string_view id) {
  db_->Transact(
      [&](PgConnection& c) { PgQuery(c, "DELETE FROM uploads WHERE id = $1").Bind(id).Run(); });
}

std::vector<std::string> PgMetaStore::ExpireUploads(int64_t idle_seconds) {
  return db_->Transact([&](PgConnection& c) {
    // A session a request holds is not idle, whatever its age. A lease taken while this runs
    // locks the row first: the DELETE then re-checks it and leaves it.
    return Column(PgQuery(c,
                          "DELETE FROM uploads WHERE touched_at < kura_unixepoch() - $1 AND "
                          "(lease_holder IS NULL OR lease_until <= kura_unixepoch()) "
                          "RETURNING id")
                      .Bind(idle_seconds)
                      .Run());
  });
}

std::vector<std::string> PgMetaStore::ListUploadIds() {
  return db_->Read(
      [&](PgConnection& c) { return Column(PgQuery(c, "SELECT id FROM uploads").Run()); });
}

LeaseOutcome PgMetaStore::LeaseUpload(std::string_view id, const RepoKey& repo,
                                      std::string_view holder, int64_t seconds,
                                      UploadSession* session) {
  return db_->Transact([&](PgConnection& c) {
    // One statement: of two racing for the row, the second waits for the first to commit, then
    // re-checks the lease on the row as committed and finds it held.
    PgResult taken = PgQuery(c,
                             "UPDATE uploads SET lease_holder = $1, lease_until = "
                             "kura_unixepoch() + $2, touched_at = kura_unixepoch() "
                             "WHERE id = $3 AND instance = $4 AND repo = $5 AND "
                             "(lease_holder IS NULL OR lease_until <= kura_unixepoch()) "
                             "RETURNING byte_offset, state")
                         .Bind(holder)
                         .Bind(seconds)
                         .Bind(id)
                         .Bind(repo.instance)
                         .Bind(repo.name)
                         .Run();
    if (taken.rows() > 0) {
      *session = UploadSession{std::string(id), repo, static_cast<uint64_t>(taken.Int(0, 0)),
                               taken.Text(0, 1)};
      return LeaseOutcome::kLeased;
    }
    PgResult exists =
        PgQuery(c, "SELECT 1 FROM uploads WHERE id = $1 AND instance = $2 AND repo = $3")
            .Bind(id)
            .Bind(repo.instance)
            .Bind(repo.name)
            .Run();
    return exists.rows() > 0 ? LeaseOutcome::kBusy : LeaseOutcome::kUnknown;
  });
}

bool PgMetaStore::RenewUploadLease(std::string_view id, const RepoKey& repo,
                                   std::string_view holder, int64_t seconds) {
  return db_->Transact([&](PgConnection& c) {
    const int64_t renewed = PgQuery(c,
                                    "UPDATE uploads SET lease_until = kura_unixepoch() + $1, "
                                    "touched_at = kura_unixepoch() "
                                    "WHERE id = $2 AND lease_holder = $3")
                                .Bind(seconds)
                                .Bind(id)
                                .Bind(holder)
                                .Run()
                                .Affected();
    if (renewed > 0) return true;
    pg_instance_keys::RefuseIfDeleted(c, repo.instance);  // the session went with its instance
    return false;
  });
}

bool PgMetaStore::SetUploadOffset(std::string_view id, const RepoKey& repo, std::string_view holder,
                                  uint64_t offset, std::string_view state) {
  RefuseOversizedState(state);
  return db_->Transact([&](PgConnection& c) {
    const int64_t set = PgQuery(c,
                                "UPDATE uploads SET byte_offset = $1, state = $2, "
                                "touched_at = kura_unixepoch() "
                                "WHERE id = $3 AND lease_holder = $4")
                            .Bind(static_cast<int64_t>(offset))
                            .BindBytes(state)
                            .Bind(id)
                            .Bind(holder)
                            .Run()
                            .Affected();
    if (set > 0) return true;
    pg_instance_keys::RefuseIfDeleted(c, repo.instance);
    return false;
  });
}

void PgMetaStore::ReleaseUploadLease(std::string_view id, std::string_view holder) {
  db_->Transact([&](PgConnection& c) {
    PgQuery(c,
            "UPDATE uploads SET lease_holder = NULL, lease_until = 0 "
            "WHERE id = $1 AND lease_holder = $2")
        .Bind(id)
        .Bind(holder)
        .Run();
  });
}

}  // namespace kura::store
