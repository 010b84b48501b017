#include "registry/manifest.h"

#include <nlohmann/json.hpp>

#include "core/bounded_json.h"
#include "core/media_types.h"

namespace kura::registry {
namespace {

using core::ErrorCode;
using core::RegistryError;
using nlohmann::json;

ParsedManifest Invalid(std::string why) {
  return {std::nullopt, RegistryError(ErrorCode::kManifestInvalid, "manifest invalid: " + why)};
}

// Layers that registries never hold (Windows foreign layers) are not checked for existence.
bool IsNonDistributable(std::string_view media_type) {
  return media_type.find("foreign") != std::string_view::npos ||
         media_type.find("nondistributable") != std::string_view::npos;
}

// Checks one descriptor; returns its digest, or an error message.
std::optional<core::Digest> ReadDescriptor(const json& d, std::string_view where, std::string* why) {
  if (!d.is_object()) {
    *why = std::string(where) + " is not an object";
    return std::nullopt;
  }
  auto mt = d.find("mediaType");
  if (mt == d.end() || !mt->is_string()) {
    *why = std::string(where) + " has no mediaType";
    return std::nullopt;
  }
  auto size = d.find("size");
  if (size == d.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    *why = std::string(where) + " has no valid size";
    return std::nullopt;
  }
  auto dg = d.find("digest");
  std::optional<core::Digest> digest;
  if (dg != d.end() && dg->is_string()) digest = core::ParseDigest(dg->get<std::string>());
  if (!digest) *why = std::string(where) + " has no valid digest";
  return digest;
}

}  // namespace

ParsedManifest ParseManifest(std::string_view body, std::string_view content_type) {
  std::string why;
  std::optional<json> parsed = core::ParseBoundedJson(body, &why);
  if (!parsed) return Invalid(why);
  const json& doc = *parsed;
  if (!doc.is_object()) return Invalid("not a JSON object");
  auto sv = doc.find("schemaVersion");
  if (sv == doc.end() || !sv->is_number_integer()) return Invalid("schemaVersion missing");
  if (sv->get<int64_t>() != 2) return Invalid("only schemaVersion 2 is supported");

  ManifestFacts facts;
  auto mt = doc.find("mediaType");
  if (mt != doc.end()) {
    if (!mt->is_string()) return Invalid("mediaType is not a string");
    facts.media_type = mt->get<std::string>();
  }
  // Content-Type may carry parameters ("; charset=utf-8").
  std::string_view header_type = content_type.substr(0, content_type.find(';'));
  while (!header_type.empty() && header_type.back() == ' ') header_type.remove_suffix(1);
  bool header_is_manifest =
      core::IsImageManifestType(header_type) || core::IsIndexType(header_type);
  if (facts.media_type.empty()) {
    if (header_is_manifest) {
      facts.media_type = header_type;
    } else if (doc.contains("manifests")) {
      facts.media_type = core::kOciIndex;
    } else {
      facts.media_type = core::kOciManifest;
    }
  } else if (header_is_manifest && header_type != facts.media_type) {
    return Invalid("mediaType " + facts.media_type + " differs from Content-Type " +
                   std::string(header_type));
  }

  if (core::IsImageManifestType(facts.media_type)) {
    auto config = doc.find("config");
    if (config == doc.end()) return Invalid("config missing");
    auto cd = ReadDescriptor(*config, "config", &why);
    if (!cd) return Invalid(why);
    facts.blobs.push_back(*cd);
    auto layers = doc.find("layers");
    if (layers == doc.end() || !layers->is_array()) return Invalid("layers missing");
    for (size_t i = 0; i < layers->size(); ++i) {
      const json& layer = (*layers)[i];
      auto ld = ReadDescriptor(layer, "layers[" + std::to_string(i) + "]", &why);
      if (!ld) return Invalid(why);
      if (!IsNonDistributable(layer["mediaType"].get<std::string>())) facts.blobs.push_back(*ld);
    }
    facts.artifact_type = (*config)["mediaType"].get<std::string>();
  } else if (core::IsIndexType(facts.media_type)) {
    auto manifests = doc.find("manifests");
    if (manifests == doc.end() || !manifests->is_array()) return Invalid("manifests missing");
    for (size_t i = 0; i < manifests->size(); ++i) {
      auto md = ReadDescriptor((*manifests)[i], "manifests[" + std::to_string(i) + "]", &why);
      if (!md) return Invalid(why);
      facts.manifests.push_back(*md);
    }
  } else {
    return Invalid("unsupported media type " + facts.media_type);
  }

  auto at = doc.find("artifactType");
  if (at != doc.end()) {
    if (!at->is_string()) return Invalid("artifactType is not a string");
    facts.artifact_type = at->get<std::string>();
  }
  auto subject = doc.find("subject");
  if (subject != doc.end()) {
    auto sd = ReadDescriptor(*subject, "subject", &why);
    if (!sd) return Invalid(why);
    facts.subject = *sd;
  }
  auto annotations = doc.find("annotations");
  if (annotations != doc.end()) {
    if (!annotations->is_object()) return Invalid("annotations is not an object");
    facts.annotations_json = annotations->dump();
  }
  return {std::move(facts), std::nullopt};
}

}  // namespace kura::registry
