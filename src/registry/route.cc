#include "registry/route.h"

namespace kura::registry {

namespace {

// Splits "<name><marker><reference>" where `marker` is "/<word>/": `head` is the path up to and
// including its last '/', `last` the component after it (the reference, non-empty).
bool SplitAtMarker(std::string_view head, std::string_view last, std::string_view marker,
                   Route* route) {
  if (last.empty() || head.size() <= marker.size() || !head.ends_with(marker)) return false;
  route->name = std::string(head.substr(0, head.size() - marker.size()));
  route->reference = std::string(last);
  return true;
}

}  // namespace

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

}  // namespace kura::registry
