#include "registry/registry.h"

#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/names.h"
#include "registry/request_checks.h"

namespace kura::registry {

using core::ErrorCode;
using core::RegistryError;
using store::RepoKey;

namespace {

Response MethodNotAllowed() {
  return ErrorResponse(RegistryError(ErrorCode::kUnsupported, "method not allowed on this route"));
}

}  // namespace

std::optional<RegistryError> CheckName(const std::string& name) {
  if (core::IsValidRepositoryName(name)) return std::nullopt;
  return RegistryError(ErrorCode::kNameInvalid, "invalid repository name",
                       core::DetailJson({{"name", name}}));
}

std::optional<RegistryError> CheckDigest(const std::string& digest) {
  if (core::ParseDigest(digest)) return std::nullopt;
  return RegistryError(ErrorCode::kDigestInvalid, "invalid digest",
                       core::DetailJson({{"digest", digest}}));
}

Registry::Registry(store::BlobStore& blobs, store::MetaStore& meta, UploadLimits upload_limits)
    : blobs_(blobs), meta_(meta), upload_slots_(upload_limits) {}

Response StoreFailureResponse(const store::StoreError& e) {
  if (dynamic_cast<const store::InstanceGone*>(&e)) {
    // The request was admitted before its instance was deleted; nothing was stored.
    return ErrorResponse(
        RegistryError(ErrorCode::kNameUnknown, "the registry instance was deleted", {}, 404));
  }
  if (dynamic_cast<const store::StorageFull*>(&e)) {
    return ErrorResponse(RegistryError(
        ErrorCode::kUnknown,
        std::string("the registry's storage is full; the request was undone: ") + e.what(), {},
        507));
  }
  if (dynamic_cast<const store::StoreUnavailable*>(&e)) {
    // A store cannot be reached right now: the request was not carried out (or was rolled
    // back), and the same request can succeed in a moment.
    Response r = ErrorResponse(
        RegistryError(ErrorCode::kUnknown,
                      std::string("the registry's database is unavailable: ") + e.what(), {}, 503));
    r.fields.set(http::field::retry_after, "1");
    return r;
  }
  return ErrorResponse(
      RegistryError(ErrorCode::kUnknown, std::string("storage failure: ") + e.what()));
}

asio::awaitable<Response> Registry::Handle(Request& req, Route route) {
  try {
    co_return co_await Dispatch(req, route);
  } catch (const store::StoreError& e) {
    co_return StoreFailureResponse(e);
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
      if (read) co_return FetchManifest(repo, route.reference);
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
      try {
        if (m == http::verb::patch) co_return co_await PatchBlobData(req, repo, route.reference);
        if (m == http::verb::put) {
          co_return co_await BlobUploadComplete(req, repo, route.reference);
        }
      } catch (const store::InstanceGone&) {
        // The session went with its instance while this request was writing it (it held the
        // lease): its bytes go too.
        blobs_.RemoveUpload(route.reference, {});
        throw;
      }
      if (read) co_return GetUploadStatus(repo, route.reference);
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

}  // namespace kura::registry
