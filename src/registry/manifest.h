// What the registry must know of a manifest to store it: its media type, the blobs and child
// manifests it references (all must exist before it is accepted), its subject and artifact type
// (for the referrers API). Parsing happens once, on PUT; GET serves the stored bytes untouched.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/errors.h"

namespace kura::registry {

// The largest manifest accepted, in bytes.
inline constexpr size_t kMaxManifestBytes = 4 * 1024 * 1024;

struct ManifestFacts {
  std::string media_type;
  std::vector<core::Digest> blobs;      // config and layers of an image manifest
  std::vector<core::Digest> manifests;  // children of an index
  std::optional<core::Digest> subject;
  std::string artifact_type;     // artifactType, else config.mediaType of an image manifest
  std::string annotations_json;  // the annotations object, or empty
};

// Parses `body` as an image manifest or index. `content_type` is the Content-Type of the PUT
// (may be empty). Returns the facts, or the MANIFEST_INVALID error saying what is wrong.
struct ParsedManifest {
  std::optional<ManifestFacts> facts;
  std::optional<core::RegistryError> error;
};
ParsedManifest ParseManifest(std::string_view body, std::string_view content_type);

}  // namespace kura::registry
