// One request's hold on an upload session. Whatever changes a session (a PATCH, the closing PUT, a
// DELETE) takes its lease first, from the metadata store, so that two requests never write one
// session at once, on one node or several: a second one gets 416 "upload is busy" and changes
// nothing. The lease runs for a bounded time and is renewed while the body arrives, so a node
// that dies mid-request frees the session within kSeconds.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/errors.h"
#include "store/meta_store.h"

namespace kura::registry {

class UploadLease {
 public:
  static constexpr int64_t kSeconds = 30;

  explicit UploadLease(store::MetaStore& meta);
  ~UploadLease();  // gives the lease up, if still held
  UploadLease(const UploadLease&) = delete;
  UploadLease& operator=(const UploadLease&) = delete;

  // Takes the lease of session `id` of `repo`. The error to answer when it cannot:
  // BLOB_UPLOAD_UNKNOWN, or 416 BLOB_UPLOAD_INVALID while another request holds it.
  std::optional<core::RegistryError> Take(const std::string& id, const store::RepoKey& repo);

  // The session as it was when the lease was taken.
  const store::UploadSession& session() const { return session_; }

  // True while this request still holds the lease; renews it once a third of it has passed.
  // False when it ran out and another request took it: this one must not touch the file.
  bool Keep();

  // Records the session's new size and state (UploadSession::state). False when the lease was
  // lost.
  bool SetOffset(uint64_t offset, const std::string& state);

  // The session is gone (committed, cancelled): there is no lease left to give up.
  void Ended() { held_ = false; }

  // The error for a request that lost its lease half-way.
  static core::RegistryError Lost();

 private:
  store::MetaStore& meta_;
  std::string holder_;
  store::UploadSession session_;
  bool held_ = false;
  std::chrono::steady_clock::time_point renewed_;
};

}  // namespace kura::registry
