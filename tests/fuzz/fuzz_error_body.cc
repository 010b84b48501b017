// libFuzzer target: an OCI error answer echoes what the client sent (a name, a tag, a digest, a
// Host) in its message and detail. Whatever the bytes, ErrorBody must not throw and must be JSON
// in valid UTF-8 with the errors list clients read.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  kura::core::RegistryError error(kura::core::ErrorCode::kNameInvalid, "invalid name " + in,
                                  kura::core::DetailJson({{"name", in}, {"tag", in}}));
  std::string body = kura::core::ErrorBody(error);
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc["errors"].is_array() || doc["errors"].size() != 1) {
    __builtin_trap();
  }
  if (doc["errors"][0]["code"] != "NAME_INVALID" || !doc["errors"][0]["detail"].is_object()) {
    __builtin_trap();
  }
  return 0;
}
