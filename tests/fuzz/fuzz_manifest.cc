// libFuzzer target: manifest parsing must never crash, whatever the bytes and Content-Type.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "registry/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t split = in.find('\n');
  std::string_view content_type = split == std::string_view::npos ? "" : in.substr(0, split);
  std::string_view body = split == std::string_view::npos ? in : in.substr(split + 1);
  auto parsed = kura::registry::ParseManifest(body, content_type);
  if (!parsed.facts && !parsed.error) __builtin_trap();  // exactly one of the two
  return 0;
}
