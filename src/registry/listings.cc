#include <nlohmann/json.hpp>

#include "core/json_text.h"
#include "core/media_types.h"
#include "registry/byte_ranges.h"
#include "registry/registry.h"

namespace kura::registry {

using core::ErrorCode;
using core::RegistryError;
using store::RepoKey;

namespace {

constexpr size_t kMaxPageSize = 10000;

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

// GET /v2/<name>/tags/list[?n=&last=]: 200 {"name","tags"} in lexical order, with a Link to the
// next page; 404 NAME_UNKNOWN for a repository that does not exist.
Response Registry::ListTags(Request& req, const RepoKey& repo) {
  Page page;
  if (auto bad = ReadPage(req, &page)) return std::move(*bad);
  if (!meta_.RepositoryExists(repo)) {
    return ErrorResponse(RegistryError(ErrorCode::kNameUnknown, "repository name not known",
                                       core::DetailJson({{"name", repo.name}})));
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
  return r;
}

}  // namespace kura::registry
