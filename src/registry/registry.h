// The OCI Distribution v1.1 API (/v2/...). One Registry serves every instance: each request names
// its instance, and every repository lives inside one. Handlers are named after the spec's
// actions; each states its HTTP outcome.
#pragma once

#include <memory>
#include <string>

#include "core/digest.h"
#include "registry/exchange.h"
#include "registry/route.h"
#include "registry/upload_slots.h"
#include "store/blob_store.h"
#include "store/meta_store.h"

namespace kura::registry {

class UploadLease;
struct UploadSessionState;  // upload_session_state.h

// The answer to a request that met a store failure: 404 for an instance deleted on the way, 507
// for a full store, 503 with Retry-After for one that cannot be reached, 500 otherwise.
Response StoreFailureResponse(const store::StoreError& e);

class Registry {
 public:
  Registry(store::BlobStore& blobs, store::MetaStore& meta, UploadLimits upload_limits = {});
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Answers one request. Never throws for bad input: every failure is an OCI error response.
  asio::awaitable<Response> Handle(Request& request) {
    return Handle(request, ParseRoute(request.path));
  }
  // The same, for a caller that has parsed the request's path already (to authorize it).
  asio::awaitable<Response> Handle(Request& request, Route route);

 private:
  asio::awaitable<Response> Dispatch(Request& req, const Route& route);

  Response CheckApiVersion(Request& req);
  Response FetchBlob(Request& req, const store::RepoKey& repo, const std::string& digest);
  Response DeleteBlob(const store::RepoKey& repo, const std::string& digest);
  asio::awaitable<Response> StartBlobUpload(Request& req, const store::RepoKey& repo);
  asio::awaitable<Response> PushBlobMonolithic(Request& req, const store::RepoKey& repo,
                                               const std::string& digest);
  Response MountBlob(Request& req, const store::RepoKey& repo, const std::string& digest,
                     const std::string& from);
  asio::awaitable<Response> PatchBlobData(Request& req, const store::RepoKey& repo,
                                          const std::string& id);
  Response GetUploadStatus(const store::RepoKey& repo, const std::string& id);
  asio::awaitable<Response> BlobUploadComplete(Request& req, const store::RepoKey& repo,
                                               const std::string& id);
  Response CancelBlobUpload(const store::RepoKey& repo, const std::string& id);
  Response CancelOnAFullDisk(const store::RepoKey& repo, const std::string& id);
  Response FetchManifest(const store::RepoKey& repo, const std::string& reference);
  asio::awaitable<Response> PutManifest(Request& req, const store::RepoKey& repo,
                                        const std::string& reference);
  Response DeleteManifest(const store::RepoKey& repo, const std::string& reference);
  Response ListTags(Request& req, const store::RepoKey& repo);
  Response ListRepositories(Request& req);
  Response ListReferrers(Request& req, const store::RepoKey& repo, const std::string& digest);

  // Appends the request body to upload `id` (whose stored size is `offset`, its session state
  // `state`), hashing it, in one of the upload slots; `lease` (null for a monolithic push, which
  // no other request can name) is kept alive as the body arrives. Returns the new size, or an
  // error: the upload is then as it was before the call. A failed write (StorageFull for a full
  // disk) is undone the same way, then thrown.
  struct AppendResult {
    uint64_t size = 0;
    std::optional<core::RegistryError> error;
    std::optional<core::Sha256> hash;  // without an error: the hash of all `size` bytes
    std::string store_state;           // ... and the blob store's state of the upload
    std::string session_state;         // ... and both, as the session records them
  };
  asio::awaitable<AppendResult> AppendBody(Request& req, const std::string& id, uint64_t offset,
                                           const std::string& state,
                                           std::optional<uint64_t> expected_length,
                                           UploadLease* lease);

  // Makes the checked bytes of upload `id` the blob its state is committing them as, links it
  // and ends the session: 201.
  Response FinishCommit(const store::RepoKey& repo, const std::string& id, uint64_t size,
                        const UploadSessionState& state, UploadLease& lease);

  // The hash of the first `offset` bytes of upload `id`, from the state its session recorded.
  core::Sha256 ResumeHash(const std::string& id, uint64_t offset, const UploadSessionState& state);

  store::BlobStore& blobs_;
  store::MetaStore& meta_;
  UploadSlots upload_slots_;
};

}  // namespace kura::registry
