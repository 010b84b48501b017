#include "registry/registry.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/json_text.h"
#include "core/media_types.h"
#include "core/names.h"
#include "registry/manifest.h"
#include "store/upload_writer.h"

namespace kura::registry {

using core::ErrorCode;
using core::RegistryError;
using store::RepoKey;

namespace {

constexpr size_t kChunkBytes = 256 * 1024;
constexpr size_t kMaxPageSize = 10000;

// Splits "<name><marker><reference>" where `marker` is "/<word>/": `head` is the path up to and
// including its last '/', `last` the component after it (the reference, non-empty).
bool SplitAtMarker(std::string_view head, std::string_view last, std::string_view marker,
                   Route* route) {
  if (last.empty() || head.size() <= marker.size() || !head.ends_with(marker)) return false;
  route->name = std::string(head.substr(0, head.size() - marker.size()));
  route->reference = std::string(last);
  return true;
}

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

std::optional<uint64_t> ParseUint(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Parses a single "bytes=first-last", "bytes=first-" or "bytes=-suffix" against a blob of
// `size` bytes. Returns [first, last] or nullopt when unsatisfiable or malformed.
std::optional<std::pair<uint64_t, uint64_t>> ParseByteRange(std::string_view header,
                                                            uint64_t size) {
  constexpr std::string_view kPrefix = "bytes=";
  if (header.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view spec = header.substr(kPrefix.size());
  if (spec.find(',') != std::string_view::npos) return std::nullopt;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos || size == 0) return std::nullopt;
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  if (a.empty()) {
    auto suffix = ParseUint(b);
    if (!suffix || *suffix == 0) return std::nullopt;
    uint64_t n = std::min(*suffix, size);
    return std::pair{size - n, size - 1};
  }
  auto first = ParseUint(a);
  if (!first || *first >= size) return std::nullopt;
  uint64_t last = size - 1;
  if (!b.empty()) {
    auto l = ParseUint(b);
    if (!l || *l < *first) return std::nullopt;
    last = std::min(*l, size - 1);
  }
  return std::pair{*first, last};
}

// Parses "first-last" of a PATCH's Content-Range (optionally "bytes first-last/total").
std::optional<std::pair<uint64_t, uint64_t>> ParseContentRange(std::string_view v) {
  if (v.substr(0, 6) == "bytes ") v.remove_prefix(6);
  if (v.substr(0, 6) == "bytes=") v.remove_prefix(6);
  v = v.substr(0, v.find('/'));
  size_t dash = v.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto first = ParseUint(v.substr(0, dash));
  auto last = ParseUint(v.substr(dash + 1));
  if (!first || !last || *last < *first) return std::nullopt;
  return std::pair{*first, *last};
}

std::optional<RegistryError> CheckName(const std::string& name) {
  if (core::IsValidRepositoryName(name)) return std::nullopt;
  return RegistryError(ErrorCode::kNameInvalid, "invalid repository name",
                       nlohmann::json{{"name", name}}.dump());
}

std::optional<RegistryError> CheckDigest(const std::string& digest) {
  if (core::ParseDigest(digest)) return std::nullopt;
  return RegistryError(ErrorCode::kDigestInvalid, "invalid digest",
                       nlohmann::json{{"digest", digest}}.dump());
}

Response MethodNotAllowed() {
  return ErrorResponse(RegistryError(ErrorCode::kUnsupported, "method not allowed on this route"));
}

// Reads the page parameters n and last. Returns an error response for a bad n.
struct Page {
  size_t limit = kMaxPageSize;
  bool limited = false;
  std::string last;
};
std::optional<Response> ReadPage(const Request& req, Page* page) {
  if (auto n = req.Query("n")) {
    auto v = ParseUint(*n);
    if (!v) {
      return ErrorResponse(
          RegistryError(ErrorCode::kPaginationNumberInvalid, "n must be a non-negative integer"));
    }
    page->limit = std::min<uint64_t>(*v, kMaxPageSize);
    page->limited = true;
  }
  if (auto last = req.Query("last")) page->last = *last;
  return std::nullopt;
}

// Sets the Link header to the next page when `items` filled the page and more may follow.
void SetNextLink(Response& r, std::string_view base, const Page& page,
                 const std::vector<std::string>& items, bool more) {
  if (!more || items.empty()) return;
  r.fields.set(http::field::link, "<" + std::string(base) + "?n=" + std::to_string(page.limit) +
                                      "&last=" + PercentEncode(items.back(), /*keep_slash=*/true) +
                                      ">; rel=\"next\"");
}

}  // namespace

struct Registry::UploadHash {
  core::Sha256 hash;
  uint64_t hashed = 0;  // bytes of the upload file fed to `hash`
  bool busy = false;    // a request is appending right now (guarded by hashes_mu_)
};

Route ParseRoute(std::string_view path) {
  Route route;
  if (path == "/v2/" || path == "/v2") {
    route.kind = Route::Kind::kBase;
    return route;
  }
  if (path.substr(0, 4) != "/v2/") return route;
  std::string_view rest = path.substr(4);
  if (rest == "_catalog") {
    route.kind = Route::Kind::kCatalog;
    return route;
  }
  // Every route ends in a fixed word or "<word>/<reference>": one look at the last '/' (this
  // runs on every request).
  size_t slash = rest.rfind('/');
  if (slash == std::string_view::npos) return route;
  std::string_view head = rest.substr(0, slash + 1);
  std::string_view last = rest.substr(slash + 1);
  auto named = [&](std::string_view suffix, Route::Kind kind) {
    route.name = std::string(rest.substr(0, rest.size() - suffix.size()));
    if (!route.name.empty()) route.kind = kind;
  };
  if (last == "list" && head.ends_with("/tags/")) {
    named("/tags/list", Route::Kind::kTags);
  } else if (last.empty() && head.ends_with("/blobs/uploads/")) {
    named("/blobs/uploads/", Route::Kind::kUploadStart);
  } else if (last == "uploads" && head.ends_with("/blobs/")) {
    named("/blobs/uploads", Route::Kind::kUploadStart);
  } else if (SplitAtMarker(head, last, "/blobs/uploads/", &route)) {
    route.kind = Route::Kind::kUpload;
  } else if (SplitAtMarker(head, last, "/manifests/", &route)) {
    route.kind = Route::Kind::kManifest;
  } else if (SplitAtMarker(head, last, "/blobs/", &route)) {
    route.kind = Route::Kind::kBlob;
  } else if (SplitAtMarker(head, last, "/referrers/", &route)) {
    route.kind = Route::Kind::kReferrers;
  }
  return route;
}

Registry::Registry(store::BlobStore& blobs, store::MetaStore& meta) : blobs_(blobs), meta_(meta) {}

asio::awaitable<Response> Registry::Handle(Request& req, Route route) {
  try {
    co_return co_await Dispatch(req, route);
  } catch (const store::InstanceGone&) {
    // The request was admitted before its instance was deleted; nothing was stored.
    co_return ErrorResponse(
        RegistryError(ErrorCode::kNameUnknown, "the registry instance was deleted", {}, 404));
  } catch (const store::StoreError& e) {
    co_return ErrorResponse(
        RegistryError(ErrorCode::kUnknown, std::string("storage failure: ") + e.what()));
  }
}

asio::awaitable<Response> Registry::Dispatch(Request& req, const Route& route) {
  using Kind = Route::Kind;
  const http::verb m = req.method();
  const bool read = m == http::verb::get || m == http::verb::head;
  if (route.kind == Kind::kUnknown) {
    co_return ErrorResponse(RegistryError(ErrorCode::kNameUnknown, "no such route", {}, 404));
  }
  if (route.kind == Kind::kBase) co_return read ? CheckApiVersion(req) : MethodNotAllowed();
  if (route.kind == Kind::kCatalog) co_return read ? ListRepositories(req) : MethodNotAllowed();

  if (auto e = CheckName(route.name)) co_return ErrorResponse(*e);
  RepoKey repo{req.instance, route.name};

  switch (route.kind) {
    case Kind::kTags:
      co_return read ? ListTags(req, repo) : MethodNotAllowed();
    case Kind::kManifest:
      if (read) co_return FetchManifest(req, repo, route.reference);
      if (m == http::verb::put) co_return co_await PutManifest(req, repo, route.reference);
      if (m == http::verb::delete_) co_return DeleteManifest(repo, route.reference);
      co_return MethodNotAllowed();
    case Kind::kBlob:
      if (auto e = CheckDigest(route.reference)) co_return ErrorResponse(*e);
      if (read) co_return FetchBlob(req, repo, route.reference);
      if (m == http::verb::delete_) co_return DeleteBlob(repo, route.reference);
      co_return MethodNotAllowed();
    case Kind::kUploadStart:
      if (m == http::verb::post) co_return co_await StartBlobUpload(req, repo);
      co_return MethodNotAllowed();
    case Kind::kUpload:
      if (m == http::verb::patch) co_return co_await PatchBlobData(req, repo, route.reference);
      if (m == http::verb::put) co_return co_await BlobUploadComplete(req, repo, route.reference);
      if (m == http::verb::get) co_return GetUploadStatus(repo, route.reference);
      if (m == http::verb::delete_) co_return CancelBlobUpload(repo, route.reference);
      co_return MethodNotAllowed();
    case Kind::kReferrers:
      if (auto e = CheckDigest(route.reference)) co_return ErrorResponse(*e);
      co_return read ? ListReferrers(req, repo, route.reference) : MethodNotAllowed();
    default:
      co_return MethodNotAllowed();
  }
}

// GET /v2/: 200, telling clients this is a registry speaking the v2 API.
Response Registry::CheckApiVersion(Request&) {
  Response r;
  r.fields.set(http::field::content_type, "application/json");
  r.body = "{}";
  return r;
}

// GET/HEAD /v2/<name>/blobs/<digest>: 200 with the bytes, or 206 for a satisfiable Range,
// 416 for an unsatisfiable one, 404 BLOB_UNKNOWN when the repository has no such blob.
Response Registry::FetchBlob(Request& req, const RepoKey& repo, const std::string& digest) {
  auto blob_unknown = [&] {
    return ErrorResponse(RegistryError(ErrorCode::kBlobUnknown, "blob unknown to registry",
                                       nlohmann::json{{"digest", digest}}.dump()));
  };
  std::optional<uint64_t> linked = meta_.LinkedBlobSize(repo, digest);
  if (!linked) return blob_unknown();
  // HEAD answers from the metadata (a blob is linked only after its bytes are in place); GET
  // opens the bytes it sends.
  std::optional<store::BlobFile> file;
  if (req.method() != http::verb::head) {
    file = blobs_.Open(*core::ParseDigest(digest));
    if (!file) return blob_unknown();
  }
  Response r;
  uint64_t size = file ? file->size : *linked;
  r.fields.set(http::field::content_type, "application/octet-stream");
  r.fields.set("Docker-Content-Digest", digest);
  r.fields.set(http::field::etag, "\"" + digest + "\"");
  r.fields.set(http::field::accept_ranges, "bytes");
  uint64_t first = 0, length = size;
  auto range_header = req.header[http::field::range];
  if (!range_header.empty()) {
    auto range = ParseByteRange(range_header, size);
    if (!range) {
      Response bad = ErrorResponse(
          RegistryError(ErrorCode::kBlobUnknown, "requested range not satisfiable", {}, 416));
      bad.fields.set(http::field::content_range, "bytes */" + std::to_string(size));
      return bad;
    }
    first = range->first;
    length = range->second - range->first + 1;
    r.status = http::status::partial_content;
    r.fields.set(http::field::content_range, "bytes " + std::to_string(range->first) + "-" +
                                                 std::to_string(range->second) + "/" +
                                                 std::to_string(size));
  }
  if (req.method() == http::verb::head) {
    r.head_length = length;
    return r;
  }
  r.file = std::move(file);
  r.file_offset = first;
  r.file_length = length;
  return r;
}

// DELETE /v2/<name>/blobs/<digest>: 202 once the repository no longer links the blob.
Response Registry::DeleteBlob(const RepoKey& repo, const std::string& digest) {
  if (!meta_.UnlinkBlob(repo, digest)) {
    return ErrorResponse(RegistryError(ErrorCode::kBlobUnknown, "blob unknown to registry",
                                       nlohmann::json{{"digest", digest}}.dump()));
  }
  Response r;
  r.status = http::status::accepted;
  r.fields.set("Docker-Content-Digest", digest);
  return r;
}

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
  AppendResult appended = co_await AppendBody(req, id, 0, req.body.ContentLength());
  if (appended.error) {
    ForgetHash(id);
    blobs_.RemoveUpload(id);
    co_return ErrorResponse(*appended.error);
  }
  std::shared_ptr<UploadHash> state = HashFor(id, appended.size);
  ForgetHash(id);
  core::Digest actual = state->hash.Finish();
  if (actual.str() != digest) {
    blobs_.RemoveUpload(id);
    co_return ErrorResponse(
        RegistryError(ErrorCode::kDigestInvalid, "provided digest did not match uploaded content",
                      nlohmann::json{{"expected", digest}, {"actual", actual.str()}}.dump()));
  }
  if (!blobs_.CommitUpload(id, actual)) {
    blobs_.RemoveUpload(id);
    throw store::StoreError("cannot store blob " + digest);
  }
  meta_.LinkBlob(repo, digest, appended.size);
  co_return BlobCreated(repo, digest);
}

std::shared_ptr<Registry::UploadHash> Registry::HashFor(const std::string& id, uint64_t offset) {
  {
    std::lock_guard lock(hashes_mu_);
    auto it = hashes_.find(id);
    if (it != hashes_.end() && it->second->hashed == offset) return it->second;
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
  std::lock_guard lock(hashes_mu_);
  hashes_[id] = state;
  return state;
}

void Registry::ForgetHash(const std::string& id) {
  std::lock_guard lock(hashes_mu_);
  hashes_.erase(id);
}

asio::awaitable<Registry::AppendResult> Registry::AppendBody(
    Request& req, const std::string& id, uint64_t offset, std::optional<uint64_t> expected_length) {
  std::shared_ptr<UploadHash> state = HashFor(id, offset);
  {
    std::lock_guard lock(hashes_mu_);
    if (state->busy) {
      co_return AppendResult{offset,
                             RegistryError(ErrorCode::kBlobUploadInvalid,
                                           "another request is writing this upload", {}, 416)};
    }
    state->busy = true;
  }
  store::FileHandle file = blobs_.OpenUpload(id, offset);
  if (!file.valid()) {
    std::lock_guard lock(hashes_mu_);
    state->busy = false;
    throw store::StoreError("cannot open upload file " + id);
  }
  uint64_t received = 0;
  std::optional<RegistryError> error;
  try {
    // The writer writes one buffer while this coroutine receives and hashes the next.
    store::UploadWriter writer(file.get(), offset);
    bool body_done = false;
    while (!body_done) {
      std::span<char> buf = writer.NextBuffer();
      size_t filled = 0;
      while (filled < buf.size()) {  // only a whole buffer keeps the writes aligned
        size_t n = co_await req.body.Read(buf.data() + filled, buf.size() - filled);
        if (n == 0) {
          body_done = true;
          break;
        }
        filled += n;
      }
      if (filled == 0) break;
      state->hash.Update(buf.data(), filled);
      writer.Submit(filled);
      received += filled;
    }
    writer.Finish();
    if (expected_length && received != *expected_length) {
      error = RegistryError(ErrorCode::kSizeInvalid, "body length differs from Content-Length");
    }
  } catch (const BodyError& e) {
    error =
        RegistryError(ErrorCode::kBlobUploadInvalid, std::string("body cut short: ") + e.what());
  } catch (...) {
    std::lock_guard lock(hashes_mu_);
    state->busy = false;
    hashes_.erase(id);
    throw;
  }
  std::lock_guard lock(hashes_mu_);
  state->busy = false;
  if (error) {
    // The hash has eaten bytes that will be truncated away; rebuild it next time.
    hashes_.erase(id);
    ::ftruncate(file.get(), static_cast<off_t>(offset));
    co_return AppendResult{offset, error};
  }
  state->hashed = offset + received;
  co_return AppendResult{offset + received, std::nullopt};
}

// PATCH /v2/<name>/blobs/uploads/<id>: 202 with the new Range; 416 when Content-Range does not
// start where the upload ends.
asio::awaitable<Response> Registry::PatchBlobData(Request& req, const RepoKey& repo,
                                                  const std::string& id) {
  auto session = meta_.FindUpload(id);
  if (!session || session->repo.instance != repo.instance || session->repo.name != repo.name) {
    co_return ErrorResponse(RegistryError(ErrorCode::kBlobUploadUnknown, "blob upload unknown"));
  }
  std::optional<uint64_t> expected = req.body.ContentLength();
  auto content_range = req.header[http::field::content_range];
  if (!content_range.empty()) {
    auto range = ParseContentRange(content_range);
    if (!range || range->first != session->offset) {
      Response r = ErrorResponse(RegistryError(
          ErrorCode::kBlobUploadInvalid, "content range does not continue the upload", {}, 416));
      r.fields.set(http::field::location, UploadLocation(repo, id));
      r.fields.set(http::field::range, UploadRange(session->offset));
      co_return r;
    }
    uint64_t length = range->second - range->first + 1;
    if (expected && *expected != length) {
      co_return ErrorResponse(RegistryError(ErrorCode::kBlobUploadInvalid,
                                            "Content-Length differs from Content-Range", {}, 416));
    }
    expected = length;
  }
  AppendResult appended = co_await AppendBody(req, id, session->offset, expected);
  if (appended.error) co_return ErrorResponse(*appended.error);
  meta_.SetUploadOffset(id, appended.size);
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
// session with 400 DIGEST_INVALID.
asio::awaitable<Response> Registry::BlobUploadComplete(Request& req, const RepoKey& repo,
                                                       const std::string& id) {
  auto session = meta_.FindUpload(id);
  if (!session || session->repo.instance != repo.instance || session->repo.name != repo.name) {
    co_return ErrorResponse(RegistryError(ErrorCode::kBlobUploadUnknown, "blob upload unknown"));
  }
  auto digest = req.Query("digest");
  if (!digest) {
    co_return ErrorResponse(RegistryError(ErrorCode::kDigestInvalid, "digest parameter missing"));
  }
  if (auto e = CheckDigest(*digest)) co_return ErrorResponse(*e);
  uint64_t size = session->offset;
  auto content_range = req.header[http::field::content_range];
  if (!content_range.empty()) {
    auto range = ParseContentRange(content_range);
    if (!range || range->first != session->offset) {
      co_return ErrorResponse(RegistryError(ErrorCode::kBlobUploadInvalid,
                                            "content range does not continue the upload", {}, 416));
    }
  }
  std::optional<uint64_t> length = req.body.ContentLength();
  if (!length || *length > 0) {
    AppendResult appended = co_await AppendBody(req, id, session->offset, length);
    if (appended.error) co_return ErrorResponse(*appended.error);
    size = appended.size;
    if (size != session->offset) meta_.SetUploadOffset(id, size);
  }
  std::shared_ptr<UploadHash> state = HashFor(id, size);
  ForgetHash(id);
  core::Digest actual = state->hash.Finish();
  if (actual.str() != *digest) {
    meta_.DeleteUpload(id);
    blobs_.RemoveUpload(id);
    co_return ErrorResponse(
        RegistryError(ErrorCode::kDigestInvalid, "provided digest did not match uploaded content",
                      nlohmann::json{{"expected", *digest}, {"actual", actual.str()}}.dump()));
  }
  if (size == 0) blobs_.OpenUpload(id, 0);  // an empty blob still needs its (empty) file
  if (!blobs_.CommitUpload(id, actual)) throw store::StoreError("cannot store blob " + *digest);
  meta_.LinkBlob(repo, *digest, size);
  meta_.DeleteUpload(id);
  co_return BlobCreated(repo, *digest);
}

// DELETE /v2/<name>/blobs/uploads/<id>: 204, the session and its bytes are gone.
Response Registry::CancelBlobUpload(const RepoKey& repo, const std::string& id) {
  auto session = meta_.FindUpload(id);
  if (!session || session->repo.instance != repo.instance || session->repo.name != repo.name) {
    return ErrorResponse(RegistryError(ErrorCode::kBlobUploadUnknown, "blob upload unknown"));
  }
  meta_.DeleteUpload(id);
  blobs_.RemoveUpload(id);
  ForgetHash(id);
  Response r;
  r.status = http::status::no_content;
  return r;
}

// GET/HEAD /v2/<name>/manifests/<reference>: 200 with the stored bytes, their media type and
// digest; 404 MANIFEST_UNKNOWN.
Response Registry::FetchManifest(Request& req, const RepoKey& repo, const std::string& reference) {
  std::optional<store::StoredManifest> m;
  if (reference.find(':') != std::string::npos) {
    if (auto e = CheckDigest(reference)) return ErrorResponse(*e);
    m = meta_.GetManifest(repo, reference);
  } else {
    if (!core::IsValidTag(reference)) {
      return ErrorResponse(RegistryError(ErrorCode::kManifestInvalid, "invalid tag"));
    }
    m = meta_.GetTaggedManifest(repo, reference);
  }
  if (!m) {
    return ErrorResponse(RegistryError(ErrorCode::kManifestUnknown, "manifest unknown",
                                       nlohmann::json{{"reference", reference}}.dump()));
  }
  Response r;
  r.fields.set(http::field::content_type, m->media_type);
  r.fields.set("Docker-Content-Digest", m->digest);
  r.fields.set(http::field::etag, "\"" + m->digest + "\"");
  if (req.method() == http::verb::head) {
    r.head_length = m->body.size();
  } else {
    r.body = std::move(m->body);
  }
  return r;
}

// PUT /v2/<name>/manifests/<reference>: 201 with Location and Docker-Content-Digest (and
// OCI-Subject when the manifest has a subject). 400 MANIFEST_BLOB_UNKNOWN when a referenced blob
// or child manifest is missing, MANIFEST_INVALID when malformed, 413 SIZE_INVALID over 4 MiB.
asio::awaitable<Response> Registry::PutManifest(Request& req, const RepoKey& repo,
                                                const std::string& reference) {
  const bool by_digest = reference.find(':') != std::string::npos;
  if (by_digest) {
    if (auto e = CheckDigest(reference)) co_return ErrorResponse(*e);
  } else if (!core::IsValidTag(reference)) {
    co_return ErrorResponse(RegistryError(ErrorCode::kManifestInvalid, "invalid tag",
                                          nlohmann::json{{"tag", reference}}.dump()));
  }
  auto too_large = [] {
    return ErrorResponse(
        RegistryError(ErrorCode::kSizeInvalid, "manifest larger than 4 MiB", {}, 413));
  };
  auto declared = req.body.ContentLength();
  if (declared && *declared > kMaxManifestBytes) co_return too_large();
  std::string body;
  body.reserve(declared ? *declared : 4096);
  char buf[16384];
  try {
    while (size_t n = co_await req.body.Read(buf, sizeof buf)) {
      if (body.size() + n > kMaxManifestBytes) co_return too_large();
      body.append(buf, n);
    }
  } catch (const BodyError& e) {
    co_return ErrorResponse(
        RegistryError(ErrorCode::kManifestInvalid, std::string("body cut short: ") + e.what()));
  }
  core::Digest digest = core::Sha256Of(body);
  if (by_digest && digest.str() != reference) {
    co_return ErrorResponse(
        RegistryError(ErrorCode::kDigestInvalid, "manifest digest does not match its content",
                      nlohmann::json{{"expected", reference}, {"actual", digest.str()}}.dump()));
  }
  ParsedManifest parsed = ParseManifest(body, req.header[http::field::content_type]);
  if (parsed.error) co_return ErrorResponse(*parsed.error);
  ManifestFacts& facts = *parsed.facts;

  store::ManifestRecord record;
  record.digest = digest.str();
  record.media_type = facts.media_type;
  record.body = std::move(body);
  for (const auto& d : facts.blobs) record.blobs.push_back(d.str());
  for (const auto& d : facts.manifests) record.manifests.push_back(d.str());
  if (facts.subject) record.subject = facts.subject->str();
  record.artifact_type = facts.artifact_type;
  record.annotations_json = facts.annotations_json;
  auto missing = meta_.PutManifest(repo, record, by_digest ? std::string_view() : reference);
  if (missing) {
    co_return ErrorResponse(RegistryError(ErrorCode::kManifestBlobUnknown,
                                          "manifest references a blob or manifest unknown to "
                                          "the repository",
                                          nlohmann::json{{"digest", *missing}}.dump()));
  }
  Response r;
  r.status = http::status::created;
  r.fields.set(http::field::location, "/v2/" + repo.name + "/manifests/" + record.digest);
  r.fields.set("Docker-Content-Digest", record.digest);
  if (!record.subject.empty()) r.fields.set("OCI-Subject", record.subject);
  co_return r;
}

// DELETE /v2/<name>/manifests/<reference>: 202. By digest the manifest and its tags go; by tag
// only the tag goes. 404 MANIFEST_UNKNOWN when there is nothing to delete.
Response Registry::DeleteManifest(const RepoKey& repo, const std::string& reference) {
  bool deleted;
  if (reference.find(':') != std::string::npos) {
    if (auto e = CheckDigest(reference)) return ErrorResponse(*e);
    deleted = meta_.DeleteManifest(repo, reference);
  } else {
    if (!core::IsValidTag(reference)) {
      return ErrorResponse(RegistryError(ErrorCode::kManifestInvalid, "invalid tag"));
    }
    deleted = meta_.DeleteTag(repo, reference);
  }
  if (!deleted) {
    return ErrorResponse(RegistryError(ErrorCode::kManifestUnknown, "manifest unknown",
                                       nlohmann::json{{"reference", reference}}.dump()));
  }
  Response r;
  r.status = http::status::accepted;
  return r;
}

// GET /v2/<name>/tags/list[?n=&last=]: 200 {"name","tags"} in lexical order, with a Link to the
// next page; 404 NAME_UNKNOWN for a repository that does not exist.
Response Registry::ListTags(Request& req, const RepoKey& repo) {
  Page page;
  if (auto bad = ReadPage(req, &page)) return std::move(*bad);
  if (!meta_.RepositoryExists(repo)) {
    return ErrorResponse(RegistryError(ErrorCode::kNameUnknown, "repository name not known",
                                       nlohmann::json{{"name", repo.name}}.dump()));
  }
  std::vector<std::string> tags = meta_.ListTags(repo, page.last, page.limit + 1);
  bool more = tags.size() > page.limit;
  if (more) tags.pop_back();
  Response r;
  r.fields.set(http::field::content_type, "application/json");
  // Written directly rather than through a JSON tree: a tree allocates for every tag.
  r.body = "{\"name\":";
  core::AppendJsonString(r.body, repo.name);
  r.body += ",\"tags\":";
  core::AppendJsonStringArray(r.body, tags);
  r.body += '}';
  if (page.limited) SetNextLink(r, "/v2/" + repo.name + "/tags/list", page, tags, more);
  return r;
}

// GET /v2/_catalog[?n=&last=]: 200 {"repositories"} of the instance, with a Link to the next page.
Response Registry::ListRepositories(Request& req) {
  Page page;
  if (auto bad = ReadPage(req, &page)) return std::move(*bad);
  std::vector<std::string> names = meta_.ListRepositories(req.instance, page.last, page.limit + 1);
  bool more = names.size() > page.limit;
  if (more) names.pop_back();
  Response r;
  r.fields.set(http::field::content_type, "application/json");
  r.body = "{\"repositories\":";
  core::AppendJsonStringArray(r.body, names);
  r.body += '}';
  SetNextLink(r, "/v2/_catalog", page, names, more);
  return r;
}

// GET /v2/<name>/referrers/<digest>[?artifactType=]: 200 with an image index of the manifests
// whose subject is <digest> (empty when none), filtered by artifactType when asked.
Response Registry::ListReferrers(Request& req, const RepoKey& repo, const std::string& digest) {
  auto filter = req.Query("artifactType");
  nlohmann::json manifests = nlohmann::json::array();
  for (const store::Referrer& ref : meta_.ListReferrers(repo, digest)) {
    if (filter && ref.artifact_type != *filter) continue;
    nlohmann::json d = {{"mediaType", ref.media_type}, {"digest", ref.digest}, {"size", ref.size}};
    if (!ref.artifact_type.empty()) d["artifactType"] = ref.artifact_type;
    if (!ref.annotations_json.empty())
      d["annotations"] = nlohmann::json::parse(ref.annotations_json);
    manifests.push_back(std::move(d));
  }
  Response r;
  r.fields.set(http::field::content_type, core::kOciIndex);
  if (filter) r.fields.set("OCI-Filters-Applied", "artifactType");
  r.body =
      nlohmann::json{
          {"schemaVersion", 2}, {"mediaType", core::kOciIndex}, {"manifests", std::move(manifests)}}
          .dump();
  if (req.method() == http::verb::head) {
    r.head_length = r.body.size();
    r.body.clear();
  }
  return r;
}

}  // namespace kura::registry
