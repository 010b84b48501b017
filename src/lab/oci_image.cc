#include "lab/oci_image.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/digest.h"

namespace kura::lab {
namespace {

void WriteFile(const std::filesystem::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// Writes `data` as a blob of the layout; returns its descriptor.
nlohmann::json Blob(const std::filesystem::path& dir, const std::string& media_type,
                    const std::string& data) {
  core::Digest d = core::Sha256Of(data);
  WriteFile(dir / "blobs" / "sha256" / std::string(d.hex()), data);
  return {{"mediaType", media_type}, {"digest", d.str()}, {"size", data.size()}};
}

void Octal(char* field, size_t width, uint64_t value) {
  // width - 1 digits and a NUL, as ustar wants.
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(value));
}

}  // namespace

std::string TarOneFile(const std::string& name, const std::string& content) {
  if (name.size() >= 100) throw std::runtime_error("tar name too long: " + name);
  char header[512] = {};
  std::snprintf(header, 100, "%s", name.c_str());
  Octal(header + 100, 8, 0644);
  Octal(header + 108, 8, 0);
  Octal(header + 116, 8, 0);
  Octal(header + 124, 12, content.size());
  Octal(header + 136, 12, 0);
  header[156] = '0';
  std::memcpy(header + 257, "ustar", 6);
  std::memcpy(header + 263, "00", 2);
  std::memset(header + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : header) sum += c;
  std::snprintf(header + 148, 8, "%06o", sum);
  header[155] = ' ';
  std::string tar(header, sizeof header);
  tar += content;
  tar.append((512 - content.size() % 512) % 512, '\0');
  tar.append(1024, '\0');
  return tar;
}

void WriteOciLayout(const std::string& dir, const std::string& tag, const std::string& text) {
  std::filesystem::path root(dir);
  std::filesystem::create_directories(root / "blobs" / "sha256");
  std::string layer = TarOneFile("hello.txt", text);
  nlohmann::json layer_desc = Blob(root, "application/vnd.oci.image.layer.v1.tar", layer);
  nlohmann::json config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"config", {{"Cmd", {"/hello.txt"}}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {layer_desc["digest"]}}}},
  };
  nlohmann::json config_desc =
      Blob(root, "application/vnd.oci.image.config.v1+json", config.dump());
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config", config_desc},
      {"layers", {layer_desc}},
  };
  nlohmann::json manifest_desc =
      Blob(root, "application/vnd.oci.image.manifest.v1+json", manifest.dump());
  manifest_desc["annotations"] = {{"org.opencontainers.image.ref.name", tag}};
  WriteFile(root / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  WriteFile(root / "index.json",
            nlohmann::json{{"schemaVersion", 2}, {"manifests", {manifest_desc}}}.dump());
}

}  // namespace kura::lab
