#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "core/names.h"
#include "registry/manifest.h"
#include "registry/registry.h"
#include "registry/request_checks.h"

namespace kura::registry {

using core::ErrorCode;
using core::RegistryError;
using store::RepoKey;

// GET/HEAD /v2/<name>/manifests/<reference>: 200 with the stored bytes, their media type and
// digest; 404 MANIFEST_UNKNOWN when the reference names none (also when it cannot be a tag).
Response Registry::FetchManifest(const RepoKey& repo, const std::string& reference) {
  std::optional<store::StoredManifest> m;
  if (reference.find(':') != std::string::npos) {
    if (auto e = CheckDigest(reference)) return ErrorResponse(*e);
    m = meta_.GetManifest(repo, reference);
  } else {
    // A reference that cannot be a tag names no manifest: 404, as for any unknown tag. Only
    // a PUT of such a tag is a client error.
    if (core::IsValidTag(reference)) m = meta_.GetTaggedManifest(repo, reference);
  }
  if (!m) {
    return ErrorResponse(RegistryError(ErrorCode::kManifestUnknown, "manifest unknown",
                                       core::DetailJson({{"reference", reference}})));
  }
  Response r;
  r.fields.set(http::field::content_type, m->media_type);
  r.fields.set("Docker-Content-Digest", m->digest);
  r.fields.set(http::field::etag, "\"" + m->digest + "\"");
  r.body = std::move(m->body);  // a HEAD gets the same headers, without it (http_server)
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
                                          core::DetailJson({{"tag", reference}})));
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
                      core::DetailJson({{"expected", reference}, {"actual", digest.str()}})));
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
                                          core::DetailJson({{"digest", *missing}})));
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
    deleted = core::IsValidTag(reference) && meta_.DeleteTag(repo, reference);
  }
  if (!deleted) {
    return ErrorResponse(RegistryError(ErrorCode::kManifestUnknown, "manifest unknown",
                                       core::DetailJson({{"reference", reference}})));
  }
  Response r;
  r.status = http::status::accepted;
  return r;
}

}  // namespace kura::registry
