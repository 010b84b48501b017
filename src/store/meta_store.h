// Registry metadata: which repositories exist, which blobs each may see, manifests, tags and
// upload sessions. Every repository belongs to an instance (a tenant registry), named by its key:
// the instance's incarnation (access::Instance::incarnation, random and never reused), never
// its name, so that nothing of a deleted instance reaches a later one of the same name. The
// plain single-registry mode uses kPlainRegistryKey.
//
// Thread-safe: every method may be called from any thread at once, and from several nodes that
// share one database (PostgreSQL). Each method is one transaction: after a crash the store is as
// it was before or after the call, never in between, and a call that returned has been made
// durable. I/O failures throw StoreError (StoreUnavailable when the database cannot be reached);
// "not found" is a normal return value. A write for an instance key that DeleteInstance has
// retired throws InstanceGone.
//
// Implementations: SqliteMetaStore (sqlite_meta_store.h, one node) and PgMetaStore
// (pg_meta_store.h, every node of a cluster on one PostgreSQL database). Both pass the one
// conformance suite, tests/unit/store/meta_store_test.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kura::store {

// The key of the plain registry's data. Instance keys are incarnations, made of letters,
// digits, '-' and '_' only (access::IsValidIncarnation): this one, with its ':', is none.
inline constexpr std::string_view kPlainRegistryKey = ":plain-registry";

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The storage has no room left (ENOSPC, EDQUOT): the request that met it has been undone, and the
// same request can succeed once space is freed.
class StorageFull : public StoreError {
 public:
  using StoreError::StoreError;
};

// The database cannot be reached (refused, timed out, connection lost mid-call, every pooled
// connection busy for too long): the call was not carried out, or was rolled back. The registry
// answers 503 with Retry-After; the same request can succeed once the database is back.
class StoreUnavailable : public StoreError {
 public:
  using StoreError::StoreError;
};

// A write for an instance that was deleted while the request was on its way (the request was
// admitted before the delete). Nothing was stored.
class InstanceGone : public StoreError {
 public:
  InstanceGone() : StoreError("the registry instance was deleted") {}
};

struct RepoKey {
  std::string instance;  // the instance key: an incarnation, or kPlainRegistryKey
  std::string name;
};

struct ManifestRecord {
  std::string digest;
  std::string media_type;
  std::string body;
  std::vector<std::string> blobs;      // must all be linked to the repository
  std::vector<std::string> manifests;  // must all be manifests of the repository
  std::string subject;                 // digest of the subject, or empty
  std::string artifact_type;
  std::string annotations_json;
};

struct StoredManifest {
  std::string digest;
  std::string media_type;
  std::string body;
};

// A manifest that names another as its subject, as the referrers API lists it.
struct Referrer {
  std::string media_type;
  std::string digest;
  uint64_t size = 0;
  std::string artifact_type;
  std::string annotations_json;
};

// The largest UploadSession::state a store keeps; CreateUpload and SetUploadOffset throw
// StoreError for a larger one.
inline constexpr size_t kMaxUploadStateBytes = 64 * 1024;

struct UploadSession {
  std::string id;
  RepoKey repo;
  uint64_t offset = 0;  // bytes received and kept so far
  // Opaque bytes owned by the blob store and the hasher: what any node needs to continue the
  // upload where another left off (e.g. an S3 multipart upload id and its part list, a
  // serialized SHA-256 state). At most kMaxUploadStateBytes; the store never looks inside.
  // (The initializer lets `UploadSession{id, repo, 0}` leave it empty without a warning.)
  std::string state = {};
};

// What LeaseUpload found.
enum class LeaseOutcome {
  kLeased,  // the caller holds the lease now
  kBusy,    // another holder's lease has not expired
  kUnknown  // no such session in that repository
};

class MetaStore {
 public:
  virtual ~MetaStore() = default;

  // The size of blob `digest` if it is linked to the repository, else nullopt.
  virtual std::optional<uint64_t> LinkedBlobSize(const RepoKey& repo, std::string_view digest) = 0;

  // Links blob `digest` (whose bytes the BlobStore holds) to the repository, creating the
  // repository if needed. Linking twice is harmless.
  virtual void LinkBlob(const RepoKey& repo, std::string_view digest, uint64_t size) = 0;

  // Unlinks the blob from the repository. Returns false if it was not linked.
  virtual bool UnlinkBlob(const RepoKey& repo, std::string_view digest) = 0;

  // Stores the manifest and, if `tag` is not empty, points the tag at it. Returns the first
  // referenced blob or child manifest that the repository lacks (nothing is stored then), or
  // nullopt on success.
  virtual std::optional<std::string> PutManifest(const RepoKey& repo, const ManifestRecord& m,
                                                 std::string_view tag) = 0;

  virtual std::optional<StoredManifest> GetManifest(const RepoKey& repo,
                                                    std::string_view digest) = 0;
  virtual std::optional<StoredManifest> GetTaggedManifest(const RepoKey& repo,
                                                          std::string_view tag) = 0;

  // Deletes the manifest and every tag pointing at it. Returns false if it did not exist.
  virtual bool DeleteManifest(const RepoKey& repo, std::string_view digest) = 0;

  // Deletes the tag only. Returns false if it did not exist.
  virtual bool DeleteTag(const RepoKey& repo, std::string_view tag) = 0;

  virtual bool RepositoryExists(const RepoKey& repo) = 0;

  // Up to `limit` tags of the repository, in lexical order, each greater than `after`.
  virtual std::vector<std::string> ListTags(const RepoKey& repo, std::string_view after,
                                            size_t limit) = 0;

  // Up to `limit` repository names of the instance, in lexical order, each greater than `after`.
  virtual std::vector<std::string> ListRepositories(std::string_view instance,
                                                    std::string_view after, size_t limit) = 0;

  // The manifests of the repository whose subject is `digest`, ordered by digest.
  virtual std::vector<Referrer> ListReferrers(const RepoKey& repo, std::string_view digest) = 0;

  // Retires the instance key for good and deletes every repository, manifest, tag, blob link
  // and upload session under it, in one transaction: every later write for the key (LinkBlob,
  // PutManifest, CreateUpload) throws InstanceGone, so a request admitted before the instance
  // was deleted stores nothing once this has returned. Blob bytes stay for garbage collection;
  // upload files of the deleted sessions are removed at the next start (they have no session).
  // Throws StoreError for kPlainRegistryKey.
  virtual void DeleteInstance(std::string_view instance) = 0;

  // Every instance key that has a repository or an upload session (kPlainRegistryKey included),
  // in lexical order: at start-up, those that no instance holds are deleted.
  virtual std::vector<std::string> ListInstanceKeys() = 0;

  // Stores a new upload session (its id, repository, offset and state); throws InstanceGone when
  // the instance of its repository was deleted.
  virtual void CreateUpload(const UploadSession& session) = 0;
  // The session as last stored (offset and state of the last SetUploadOffset), or nullopt.
  virtual std::optional<UploadSession> FindUpload(std::string_view id) = 0;
  virtual void DeleteUpload(std::string_view id) = 0;

  // Deletes every upload session untouched (created, leased, renewed or written) for more than
  // `idle_seconds` whose lease is not running, and returns their ids, in no particular order: a
  // session a request holds is never expired, whatever its age. Removing the sessions' bytes is
  // the caller's. Thread-safe, one transaction: after a crash either every returned session is
  // deleted or none is (then the next call returns them again). A negative `idle_seconds`
  // expires every session not leased.
  virtual std::vector<std::string> ExpireUploads(int64_t idle_seconds) = 0;

  // The id of every upload session of every instance, in no particular order (at start-up, upload
  // files without a session are removed). Thread-safe; reads only.
  virtual std::vector<std::string> ListUploadIds() = 0;

  // Upload leases: the right to change an upload session (append, commit, cancel), held by one
  // request at a time across every node that shares this store, for a bounded time so that a
  // node that dies mid-request does not lock the session forever.
  //
  // Takes the lease of session `id` of `repo` for `holder` until `seconds` from now, unless
  // another holder's lease is still running; on kLeased *session is the session as stored (its
  // offset and state included). One atomic step: of two callers racing, on one node or two,
  // at most one gets kLeased. Time is the database's clock, never the node's.
  virtual LeaseOutcome LeaseUpload(std::string_view id, const RepoKey& repo,
                                   std::string_view holder, int64_t seconds,
                                   UploadSession* session) = 0;
  // Extends the lease of `holder` to `seconds` from now. False when it does not hold it any more;
  // throws InstanceGone when that is because the instance of `repo` was deleted.
  virtual bool RenewUploadLease(std::string_view id, const RepoKey& repo, std::string_view holder,
                                int64_t seconds) = 0;
  // Records the session's new size and state together (a reader sees both or neither), if
  // `holder` still holds its lease (false otherwise, and nothing changes; throws InstanceGone
  // when the instance of `repo` was deleted).
  virtual bool SetUploadOffset(std::string_view id, const RepoKey& repo, std::string_view holder,
                               uint64_t offset, std::string_view state) = 0;
  // Gives the lease up (nothing happens when `holder` does not hold it).
  virtual void ReleaseUploadLease(std::string_view id, std::string_view holder) = 0;
};

}  // namespace kura::store
