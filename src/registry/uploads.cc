#include <openssl/rand.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/names.h"
#include "registry/byte_ranges.h"
#include "registry/registry.h"
#include "registry/request_checks.h"
#include "registry/upload_lease.h"
#include "registry/upload_session_state.h"

namespace kura::registry {

using core::ErrorCode;
using core::RegistryError;
using store::RepoKey;

namespace {

constexpr size_t kChunkBytes = 256 * 1024;
// A body read that waits this long is a slow client's: its idle upload buffers are given back.
constexpr auto kSlowRead = std::chrono::milliseconds(500);

std::string NewUploadId() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("no randomness");
  b[6] = (b[6] & 0x0f) | 0x40;  // UUID version 4
  b[8] = (b[8] & 0x3f) | 0x80;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
    id.push_back(kHex[b[i] >> 4]);
    id.push_back(kHex[b[i] & 15]);
  }
  return id;
}

std::string UploadLocation(const RepoKey& repo, const std::string& id) {
  return "/v2/" + repo.name + "/blobs/uploads/" + id;
}

// The Range header of an upload: the inclusive range of bytes received ("0-0" when none).
std::string UploadRange(uint64_t size) {
  return "0-" + std::to_string(size == 0 ? 0 : size - 1);
}

Response UploadAccepted(const RepoKey& repo, const std::string& id, uint64_t size,
                        http::status status) {
  Response r;
  r.status = status;
  r.fields.set(http::field::location, UploadLocation(repo, id));
  r.fields.set(http::field::range, UploadRange(size));
  r.fields.set("Docker-Upload-UUID", id);
  return r;
}

Response BlobCreated(const RepoKey& repo, const std::string& digest) {
  Response r;
  r.status = http::status::created;
  r.fields.set(http::field::location, "/v2/" + repo.name + "/blobs/" + digest);
  r.fields.set("Docker-Content-Digest", digest);
  return r;
}

}  // namespace

// POST /v2/<name>/blobs/uploads/: with ?mount=&from=, 201 when the blob is mounted; with
// ?digest=, a monolithic upload (201); otherwise 202 and a new upload session.
asio::awaitable<Response> Registry::StartBlobUpload(Request& req, const RepoKey& repo) {
  auto mount = req.Query("mount");
  auto from = req.Query("from");
  if (mount && from) {
    if (auto e = CheckDigest(*mount)) co_return ErrorResponse(*e);
    co_return MountBlob(req, repo, *mount, *from);
  }
  if (auto digest = req.Query("digest")) {
    if (auto e = CheckDigest(*digest)) co_return ErrorResponse(*e);
    co_return co_await PushBlobMonolithic(req, repo, *digest);
  }
  // A session starts empty: a body here is a client error, and a malformed one must not leave
  // a session behind.
  char probe[1];
  try {
    if (co_await req.body.Read(probe, sizeof probe) > 0) {
      co_return ErrorResponse(RegistryError(ErrorCode::kBlobUploadInvalid,
                                            "a body needs ?digest= (monolithic upload)"));
    }
  } catch (const BodyError& e) {
    co_return ErrorResponse(
        RegistryError(ErrorCode::kBlobUploadInvalid, std::string("malformed body: ") + e.what()));
  }
  std::string id = NewUploadId();
  meta_.CreateUpload(store::UploadSession{id, repo, 0, {}});
  co_return UploadAccepted(repo, id, 0, http::status::accepted);
}

Response Registry::MountBlob(Request& req, const RepoKey& repo, const std::string& digest,
                             const std::string& from) {
  std::optional<uint64_t> size;
  if (core::IsValidRepositoryName(from)) size = meta_.LinkedBlobSize({req.instance, from}, digest);
  if (size && blobs_.Stat(*core::ParseDigest(digest))) {
    meta_.LinkBlob(repo, digest, *size);
    return BlobCreated(repo, digest);
  }
  // Not mountable: the spec says to fall back to an ordinary upload session.
  std::string id = NewUploadId();
  meta_.CreateUpload(store::UploadSession{id, repo, 0, {}});
  return UploadAccepted(repo, id, 0, http::status::accepted);
}

asio::awaitable<Response> Registry::PushBlobMonolithic(Request& req, const RepoKey& repo,
                                                       const std::string& digest) {
  // The bytes go to an upload that no session owns; it is cleaned up after a crash (serve.cc).
  std::string id = NewUploadId();
  AppendResult appended;
  try {
    appended = co_await AppendBody(req, id, 0, {}, req.body.ContentLength(), nullptr);
  } catch (...) {
    blobs_.RemoveUpload(id, {});
    throw;
  }
  if (appended.error) {
    blobs_.RemoveUpload(id, {});
    co_return ErrorResponse(*appended.error);
  }
  core::Digest actual = appended.hash->Finish();
  if (actual.str() != digest) {
    blobs_.RemoveUpload(id, appended.store_state);
    co_return ErrorResponse(
        RegistryError(ErrorCode::kDigestInvalid, "provided digest did not match uploaded content",
                      core::DetailJson({{"expected", digest}, {"actual", actual.str()}})));
  }
  try {
    blobs_.Commit(id, appended.size, appended.store_state, actual);
  } catch (...) {
    blobs_.RemoveUpload(id, appended.store_state);
    throw;
  }
  meta_.LinkBlob(repo, digest, appended.size);
  co_return BlobCreated(repo, digest);
}

core::Sha256 Registry::ResumeHash(const std::string& id, uint64_t offset,
                                  const UploadSessionState& state) {
  if (offset == 0) return core::Sha256();
  if (std::optional<core::Sha256> saved = core::Sha256::Restore(state.hash)) {
    if (saved->bytes() == offset) return std::move(*saved);
  }
  // A session recorded before hash states existed: rebuilt from the bytes, where the store can
  // read them back.
  std::unique_ptr<store::BlobReader> bytes = blobs_.ReadUpload(id, state.store);
  if (!bytes || bytes->size() < offset) {
    throw store::StoreError("upload " + id + " cannot be resumed: its hash state is missing");
  }
  core::Sha256 hash;
  std::vector<char> buf(kChunkBytes);
  for (uint64_t done = 0; done < offset;) {
    size_t n = bytes->ReadAt(done, buf.data(),
                             static_cast<size_t>(std::min<uint64_t>(buf.size(), offset - done)));
    if (n == 0) throw store::StoreError("upload " + id + " is shorter than recorded");
    hash.Update(buf.data(), n);
    done += n;
  }
  return hash;
}

asio::awaitable<Registry::AppendResult> Registry::AppendBody(
    Request& req, const std::string& id, uint64_t offset, const std::string& session_state,
    std::optional<uint64_t> expected_length, UploadLease* lease) {
  std::string why;
  std::optional<UploadSlots::Slot> slot = upload_slots_.Take(req.instance, &why);
  if (!slot)
    co_return AppendResult{offset, RegistryError(ErrorCode::kTooManyRequests, why), {}, {}, {}};
  UploadSessionState state = DecodeUploadSessionState(session_state);
  core::Sha256 hash = ResumeHash(id, offset, state);
  std::unique_ptr<store::UploadAppender> appender = blobs_.Append(id, offset, state.store);
  uint64_t received = 0;
  std::optional<RegistryError> error;
  bool lost = false;  // another request holds the session now: its bytes are not ours to touch
  std::exception_ptr failure;
  std::string store_state;
  try {
    // The store stores one buffer while this coroutine receives and hashes the next.
    bool body_done = false;
    while (!body_done) {
      std::span<char> buf = appender->NextBuffer();
      size_t filled = 0;
      while (filled < buf.size()) {  // only a whole buffer keeps the writes aligned
        auto asked = std::chrono::steady_clock::now();
        size_t n = co_await req.body.Read(buf.data() + filled, buf.size() - filled);
        if (std::chrono::steady_clock::now() - asked > kSlowRead) appender->ReleaseIdleBuffers();
        if (n == 0) {
          body_done = true;
          break;
        }
        filled += n;
      }
      if (filled == 0) break;
      if (lease && !lease->Keep()) {
        lost = true;
        break;
      }
      hash.Update(buf.data(), filled);
      appender->Submit(filled);
      received += filled;
    }
    if (lost) {
      error = UploadLease::Lost();
    } else if (expected_length && received != *expected_length) {
      error = RegistryError(ErrorCode::kSizeInvalid, "body length differs from Content-Length");
    } else {
      store_state = appender->Finish();
    }
  } catch (const BodyError& e) {
    error =
        RegistryError(ErrorCode::kBlobUploadInvalid, std::string("body cut short: ") + e.what());
  } catch (...) {
    failure = std::current_exception();  // a full disk, a failed write: undone below
  }
  if (!error && !failure) {
    std::string session_state = EncodeUploadSessionState({hash.SaveState(), store_state, {}});
    co_return AppendResult{offset + received, std::nullopt, std::move(hash), std::move(store_state),
                           std::move(session_state)};
  }
  // Bytes of a failed append are given back at once (a full disk gets its space back) and the
  // session is as it was before the request. Bytes of a lost lease belong to its new holder.
  if (!lost) appender->Abort();
  if (failure) std::rethrow_exception(failure);
  co_return AppendResult{offset, error, {}, {}, {}};
}

// PATCH /v2/<name>/blobs/uploads/<id>: 202 with the new Range; 416 when Content-Range does not
// start where the upload ends, or while another request is writing the session.
asio::awaitable<Response> Registry::PatchBlobData(Request& req, const RepoKey& repo,
                                                  const std::string& id) {
  UploadLease lease(meta_);
  if (auto e = lease.Take(id, repo)) co_return ErrorResponse(*e);
  const uint64_t offset = lease.session().offset;
  std::optional<uint64_t> expected = req.body.ContentLength();
  auto content_range = req.header[http::field::content_range];
  if (!content_range.empty()) {
    auto range = ParseContentRange(content_range);
    if (!range || range->first != offset) {
      Response r = ErrorResponse(RegistryError(
          ErrorCode::kBlobUploadInvalid, "content range does not continue the upload", {}, 416));
      r.fields.set(http::field::location, UploadLocation(repo, id));
      r.fields.set(http::field::range, UploadRange(offset));
      co_return r;
    }
    uint64_t length = range->second - range->first + 1;
    if (expected && *expected != length) {
      co_return ErrorResponse(RegistryError(ErrorCode::kBlobUploadInvalid,
                                            "Content-Length differs from Content-Range", {}, 416));
    }
    expected = length;
  }
  AppendResult appended =
      co_await AppendBody(req, id, offset, lease.session().state, expected, &lease);
  if (appended.error) co_return ErrorResponse(*appended.error);
  if (!lease.SetOffset(appended.size, appended.session_state)) {
    co_return ErrorResponse(UploadLease::Lost());
  }
  co_return UploadAccepted(repo, id, appended.size, http::status::accepted);
}

// GET /v2/<name>/blobs/uploads/<id>: 204 with the Range received so far.
Response Registry::GetUploadStatus(const RepoKey& repo, const std::string& id) {
  auto session = meta_.FindUpload(id);
  if (!session || session->repo.instance != repo.instance || session->repo.name != repo.name) {
    return ErrorResponse(RegistryError(ErrorCode::kBlobUploadUnknown, "blob upload unknown"));
  }
  return UploadAccepted(repo, id, session->offset, http::status::no_content);
}

// PUT /v2/<name>/blobs/uploads/<id>?digest=: appends the last chunk if any, checks the digest
// against the bytes, and makes the blob visible: 201 with its Location. A wrong digest ends the
// session with 400 DIGEST_INVALID. The session's lease is held throughout, so no other request
// writes the upload while it becomes the blob, and none can afterwards (the session is gone).
asio::awaitable<Response> Registry::BlobUploadComplete(Request& req, const RepoKey& repo,
                                                       const std::string& id) {
  UploadLease lease(meta_);
  if (auto e = lease.Take(id, repo)) co_return ErrorResponse(*e);
  auto digest = req.Query("digest");
  if (!digest) {
    co_return ErrorResponse(RegistryError(ErrorCode::kDigestInvalid, "digest parameter missing"));
  }
  if (auto e = CheckDigest(*digest)) co_return ErrorResponse(*e);
  const uint64_t offset = lease.session().offset;
  auto content_range = req.header[http::field::content_range];
  if (!content_range.empty()) {
    auto range = ParseContentRange(content_range);
    if (!range || range->first != offset) {
      co_return ErrorResponse(RegistryError(ErrorCode::kBlobUploadInvalid,
                                            "content range does not continue the upload", {}, 416));
    }
  }
  uint64_t size = offset;
  std::optional<core::Sha256> hash;
  std::string store_state;
  std::optional<uint64_t> length = req.body.ContentLength();
  UploadSessionState recorded = DecodeUploadSessionState(lease.session().state);
  if (!recorded.committing.empty()) {
    // An earlier PUT checked these bytes and began to commit them, then failed: they are (or are
    // becoming) that blob, and only the same digest can finish the session.
    if (recorded.committing != *digest || (length && *length > 0)) {
      co_return ErrorResponse(RegistryError(
          ErrorCode::kDigestInvalid, "the upload is being committed as " + recorded.committing,
          core::DetailJson({{"expected", *digest}, {"actual", recorded.committing}})));
    }
    co_return FinishCommit(repo, id, offset, recorded, lease);
  }
  if (!length || *length > 0) {
    AppendResult appended =
        co_await AppendBody(req, id, offset, lease.session().state, length, &lease);
    if (appended.error) co_return ErrorResponse(*appended.error);
    // Not recorded here: the commit below records the new size with what it commits, in one
    // write, and a wrong digest ends the session.
    size = appended.size;
    hash = std::move(appended.hash);
    store_state = std::move(appended.store_state);
  } else {
    hash = ResumeHash(id, size, recorded);
    store_state = recorded.store;
  }
  UploadSessionState committing{hash->SaveState(), store_state, *digest};
  core::Digest actual = hash->Finish();
  if (!lease.Keep()) co_return ErrorResponse(UploadLease::Lost());
  if (actual.str() != *digest) {
    blobs_.RemoveUpload(id, store_state);
    meta_.DeleteUpload(id);
    lease.Ended();
    co_return ErrorResponse(
        RegistryError(ErrorCode::kDigestInvalid, "provided digest did not match uploaded content",
                      core::DetailJson({{"expected", *digest}, {"actual", actual.str()}})));
  }
  // Recorded first: a failure from here on leaves a session that says what its bytes became, so
  // the consistency check knows them, and the same PUT again finishes the commit.
  if (!lease.SetOffset(size, EncodeUploadSessionState(committing))) {
    co_return ErrorResponse(UploadLease::Lost());
  }
  co_return FinishCommit(repo, id, size, committing, lease);
}

Response Registry::FinishCommit(const RepoKey& repo, const std::string& id, uint64_t size,
                                const UploadSessionState& state, UploadLease& lease) {
  const core::Digest digest = *core::ParseDigest(state.committing);
  blobs_.Commit(id, size, state.store, digest);  // done already when the blob exists
  meta_.LinkBlob(repo, digest.str(), size);
  meta_.DeleteUpload(id);
  lease.Ended();
  return BlobCreated(repo, digest.str());
}

// The cancel of an upload whose lease a full disk cannot record.
Response Registry::CancelOnAFullDisk(const RepoKey& repo, const std::string& id) {
  std::optional<store::UploadSession> session = meta_.FindUpload(id);
  if (!session || session->repo.instance != repo.instance || session->repo.name != repo.name) {
    return ErrorResponse(
        core::RegistryError(core::ErrorCode::kBlobUploadUnknown, "blob upload unknown"));
  }
  blobs_.RemoveUpload(id, DecodeUploadSessionState(session->state).store);
  meta_.DeleteUpload(id);
  Response r;
  r.status = http::status::no_content;
  return r;
}

// DELETE /v2/<name>/blobs/uploads/<id>: 204, the session and its bytes are gone; 416 while
// another request is writing it.
Response Registry::CancelBlobUpload(const RepoKey& repo, const std::string& id) {
  UploadLease lease(meta_);
  std::optional<core::RegistryError> refused;
  try {
    refused = lease.Take(id, repo);
  } catch (const store::StorageFull&) {
    // A full disk cannot record the lease; and whoever else writes this upload fails on the same
    // full disk. Deleting it is how an operator makes room, so it goes on without the lease.
    return CancelOnAFullDisk(repo, id);
  }
  if (refused) return ErrorResponse(*refused);
  // The bytes first: on a full disk, removing them is what makes room for the metadata write.
  blobs_.RemoveUpload(id, DecodeUploadSessionState(lease.session().state).store);
  meta_.DeleteUpload(id);
  lease.Ended();
  Response r;
  r.status = http::status::no_content;
  return r;
}

}  // namespace kura::registry
