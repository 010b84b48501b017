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
#include "store/upload_writer.h"

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

// The running hash of an upload. Only the request holding the session's lease touches it.
struct Registry::UploadHash {
  core::Sha256 hash;
  uint64_t hashed = 0;  // bytes of the upload file fed to `hash`
};

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
  meta_.CreateUpload(store::UploadSession{id, repo, 0});
  co_return UploadAccepted(repo, id, 0, http::status::accepted);
}

Response Registry::MountBlob(Request& req, const RepoKey& repo, const std::string& digest,
                             const std::string& from) {
  std::optional<uint64_t> size;
  if (core::IsValidRepositoryName(from)) size = meta_.LinkedBlobSize({req.instance, from}, digest);
  if (size && blobs_.Open(*core::ParseDigest(digest))) {
    meta_.LinkBlob(repo, digest, *size);
    return BlobCreated(repo, digest);
  }
  // Not mountable: the spec says to fall back to an ordinary upload session.
  std::string id = NewUploadId();
  meta_.CreateUpload(store::UploadSession{id, repo, 0});
  return UploadAccepted(repo, id, 0, http::status::accepted);
}

asio::awaitable<Response> Registry::PushBlobMonolithic(Request& req, const RepoKey& repo,
                                                       const std::string& digest) {
  // The bytes go to an upload file that no session owns; start-up removes it after a crash.
  std::string id = NewUploadId();
  AppendResult appended;
  try {
    appended = co_await AppendBody(req, id, 0, req.body.ContentLength(), nullptr);
  } catch (...) {
    blobs_.RemoveUpload(id);
    throw;
  }
  if (appended.error) {
    blobs_.RemoveUpload(id);
    co_return ErrorResponse(*appended.error);
  }
  core::Digest actual = appended.hash->hash.Finish();
  if (actual.str() != digest) {
    blobs_.RemoveUpload(id);
    co_return ErrorResponse(
        RegistryError(ErrorCode::kDigestInvalid, "provided digest did not match uploaded content",
                      core::DetailJson({{"expected", digest}, {"actual", actual.str()}})));
  }
  if (!blobs_.CommitUpload(id, actual)) {
    blobs_.RemoveUpload(id);
    throw store::StoreError("cannot store blob " + digest);
  }
  meta_.LinkBlob(repo, digest, appended.size);
  co_return BlobCreated(repo, digest);
}

std::shared_ptr<Registry::UploadHash> Registry::TakeHash(const std::string& id, uint64_t offset) {
  {
    std::lock_guard lock(hashes_mu_);
    auto it = hashes_.find(id);
    if (it != hashes_.end()) {
      std::shared_ptr<UploadHash> kept = std::move(it->second);
      hashes_.erase(it);
      if (kept->hashed == offset) return kept;
    }
  }
  // After a restart (or a failed append) the hash is rebuilt from the bytes kept on disk.
  auto state = std::make_shared<UploadHash>();
  store::FileHandle f = blobs_.ReadUpload(id);
  std::vector<char> buf(kChunkBytes);
  while (f.valid() && state->hashed < offset) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), offset - state->hashed));
    ssize_t n = ::read(f.get(), buf.data(), want);
    if (n <= 0) break;
    state->hash.Update(buf.data(), static_cast<size_t>(n));
    state->hashed += static_cast<uint64_t>(n);
  }
  return state;
}

void Registry::KeepHash(const std::string& id, std::shared_ptr<UploadHash> hash) {
  std::lock_guard lock(hashes_mu_);
  hashes_[id] = std::move(hash);
}

void Registry::ForgetHash(const std::string& id) {
  std::lock_guard lock(hashes_mu_);
  hashes_.erase(id);
}

asio::awaitable<Registry::AppendResult> Registry::AppendBody(
    Request& req, const std::string& id, uint64_t offset, std::optional<uint64_t> expected_length,
    UploadLease* lease) {
  std::string why;
  std::optional<UploadSlots::Slot> slot = upload_slots_.Take(req.instance, &why);
  if (!slot) co_return AppendResult{offset, RegistryError(ErrorCode::kTooManyRequests, why), {}};
  std::shared_ptr<UploadHash> state = TakeHash(id, offset);
  store::FileHandle file = blobs_.OpenUpload(id, offset);
  if (!file.valid()) throw store::StoreError("cannot open upload file " + id);
  uint64_t received = 0;
  std::optional<RegistryError> error;
  bool lost = false;  // another request holds the session now: its file is not ours to touch
  std::exception_ptr failure;
  try {
    // The writer writes one buffer while this coroutine receives and hashes the next.
    store::UploadWriter writer(file.get(), offset);
    bool body_done = false;
    while (!body_done) {
      std::span<char> buf = writer.NextBuffer();
      size_t filled = 0;
      while (filled < buf.size()) {  // only a whole buffer keeps the writes aligned
        auto asked = std::chrono::steady_clock::now();
        size_t n = co_await req.body.Read(buf.data() + filled, buf.size() - filled);
        if (std::chrono::steady_clock::now() - asked > kSlowRead) writer.ReleaseIdleBuffers();
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
      state->hash.Update(buf.data(), filled);
      writer.Submit(filled);
      received += filled;
    }
    writer.Finish();
    if (lost) {
      error = UploadLease::Lost();
    } else if (expected_length && received != *expected_length) {
      error = RegistryError(ErrorCode::kSizeInvalid, "body length differs from Content-Length");
    }
  } catch (const BodyError& e) {
    error =
        RegistryError(ErrorCode::kBlobUploadInvalid, std::string("body cut short: ") + e.what());
  } catch (...) {
    failure = std::current_exception();  // a full disk, a failed write: undone below
  }
  if (!error && !failure) {
    state->hashed = offset + received;
    co_return AppendResult{offset + received, std::nullopt, std::move(state)};
  }
  // The hash has eaten bytes that are going away: it is dropped, rebuilt from the file next time.
  // Bytes of a failed append are given back at once (a full disk gets its space back) and the
  // session is as it was before the request.
  if (!lost && ::ftruncate(file.get(), static_cast<off_t>(offset)) != 0 && !failure) {
    failure = std::make_exception_ptr(store::StoreError("cannot truncate upload " + id));
  }
  if (failure) std::rethrow_exception(failure);
  co_return AppendResult{offset, error, {}};
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
  AppendResult appended = co_await AppendBody(req, id, offset, expected, &lease);
  if (appended.error) co_return ErrorResponse(*appended.error);
  if (!lease.SetOffset(appended.size)) co_return ErrorResponse(UploadLease::Lost());
  KeepHash(id, std::move(appended.hash));  // for the next PATCH of the session
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
// writes the file while it becomes the blob, and none can afterwards (the session is gone).
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
  uint64_t size = offset;
  std::shared_ptr<UploadHash> state;
  auto content_range = req.header[http::field::content_range];
  if (!content_range.empty()) {
    auto range = ParseContentRange(content_range);
    if (!range || range->first != offset) {
      co_return ErrorResponse(RegistryError(ErrorCode::kBlobUploadInvalid,
                                            "content range does not continue the upload", {}, 416));
    }
  }
  std::optional<uint64_t> length = req.body.ContentLength();
  if (!length || *length > 0) {
    AppendResult appended = co_await AppendBody(req, id, offset, length, &lease);
    if (appended.error) co_return ErrorResponse(*appended.error);
    size = appended.size;
    state = std::move(appended.hash);
    if (size != offset && !lease.SetOffset(size)) co_return ErrorResponse(UploadLease::Lost());
  } else {
    state = TakeHash(id, size);
  }
  core::Digest actual = state->hash.Finish();
  if (!lease.Keep()) co_return ErrorResponse(UploadLease::Lost());
  if (actual.str() != *digest) {
    blobs_.RemoveUpload(id);
    meta_.DeleteUpload(id);
    lease.Ended();
    co_return ErrorResponse(
        RegistryError(ErrorCode::kDigestInvalid, "provided digest did not match uploaded content",
                      core::DetailJson({{"expected", *digest}, {"actual", actual.str()}})));
  }
  if (size == 0) blobs_.OpenUpload(id, 0);  // an empty blob still needs its (empty) file
  if (!blobs_.CommitUpload(id, actual)) throw store::StoreError("cannot store blob " + *digest);
  meta_.LinkBlob(repo, *digest, size);
  meta_.DeleteUpload(id);
  lease.Ended();
  co_return BlobCreated(repo, *digest);
}

// DELETE /v2/<name>/blobs/uploads/<id>: 204, the session and its bytes are gone; 416 while
// another request is writing it.
Response Registry::CancelBlobUpload(const RepoKey& repo, const std::string& id) {
  UploadLease lease(meta_);
  if (auto e = lease.Take(id, repo)) return ErrorResponse(*e);
  // The bytes first: on a full disk, removing them is what makes room for the metadata write.
  blobs_.RemoveUpload(id);
  ForgetHash(id);
  meta_.DeleteUpload(id);
  lease.Ended();
  Response r;
  r.status = http::status::no_content;
  return r;
}

}  // namespace kura::registry
