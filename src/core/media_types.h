// Media types of the manifests kura stores (OCI image-spec and Docker image manifest v2).
#pragma once

#include <string_view>

namespace kura::core {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kOciEmptyJson = "application/vnd.oci.empty.v1+json";

// True for an image manifest (one config, a list of layers).
inline bool IsImageManifestType(std::string_view t) {
  return t == kOciManifest || t == kDockerManifest;
}

// True for an index / manifest list (a list of child manifests).
inline bool IsIndexType(std::string_view t) { return t == kOciIndex || t == kDockerManifestList; }

}  // namespace kura::core
