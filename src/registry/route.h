// Where a request path of the OCI Distribution API (/v2/...) leads: the route kinds of the spec's
// endpoint table, recognised from the right (repository names may contain '/').
#pragma once

#include <string>
#include <string_view>

namespace kura::registry {

// Where a request path leads.
struct Route {
  enum class Kind {
    kBase,         // /v2/
    kCatalog,      // /v2/_catalog
    kTags,         // /v2/<name>/tags/list
    kManifest,     // /v2/<name>/manifests/<reference>
    kBlob,         // /v2/<name>/blobs/<digest>
    kUploadStart,  // /v2/<name>/blobs/uploads/
    kUpload,       // /v2/<name>/blobs/uploads/<id>
    kReferrers,    // /v2/<name>/referrers/<digest>
    kUnknown,
  };
  Kind kind = Kind::kUnknown;
  std::string name;
  std::string reference;  // manifest reference, digest or upload id
};

// Maps a percent-decoded path to its route. Repository names may contain '/', so the route is
// recognised from the right.
Route ParseRoute(std::string_view path);

}  // namespace kura::registry
