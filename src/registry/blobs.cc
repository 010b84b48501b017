#include <nlohmann/json.hpp>

#include "core/digest.h"
#include "registry/byte_ranges.h"
#include "registry/registry.h"

namespace kura::registry {

using core::ErrorCode;
using core::RegistryError;
using store::RepoKey;

// GET/HEAD /v2/<name>/blobs/<digest>: 200 with the bytes, or 206 for a satisfiable Range,
// 416 for an unsatisfiable one, 404 BLOB_UNKNOWN when the repository has no such blob.
Response Registry::FetchBlob(Request& req, const RepoKey& repo, const std::string& digest) {
  auto blob_unknown = [&] {
    return ErrorResponse(RegistryError(ErrorCode::kBlobUnknown, "blob unknown to registry",
                                       core::DetailJson({{"digest", digest}})));
  };
  std::optional<uint64_t> linked = meta_.LinkedBlobSize(repo, digest);
  if (!linked) return blob_unknown();
  // HEAD answers from the metadata (a blob is linked only after its bytes are in place); GET
  // opens the bytes it sends.
  std::unique_ptr<store::BlobReader> blob;
  if (req.method() != http::verb::head) {
    blob = blobs_.Open(*core::ParseDigest(digest));
    if (!blob) return blob_unknown();
  }
  Response r;
  uint64_t size = blob ? blob->size() : *linked;
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
  r.blob = std::move(blob);
  r.blob_offset = first;
  r.blob_length = length;
  return r;
}

// DELETE /v2/<name>/blobs/<digest>: 202 once the repository no longer links the blob.
Response Registry::DeleteBlob(const RepoKey& repo, const std::string& digest) {
  if (!meta_.UnlinkBlob(repo, digest)) {
    return ErrorResponse(RegistryError(ErrorCode::kBlobUnknown, "blob unknown to registry",
                                       core::DetailJson({{"digest", digest}})));
  }
  Response r;
  r.status = http::status::accepted;
  r.fields.set("Docker-Content-Digest", digest);
  return r;
}

}  // namespace kura::registry
