// libFuzzer target: the parsers of request parts (route, escapes, names, tags, digests,
// Basic credentials) must never crash and must agree with themselves.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/htpasswd.h"
#include "core/digest.h"
#include "core/names.h"
#include "registry/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto decoded = kura::registry::PercentDecode(in, size % 2)) {
    auto route = kura::registry::ParseRoute(*decoded);
    if (route.kind != kura::registry::Route::Kind::kUnknown &&
        route.kind != kura::registry::Route::Kind::kBase &&
        route.kind != kura::registry::Route::Kind::kCatalog && route.name.empty()) {
      __builtin_trap();
    }
    kura::core::IsValidRepositoryName(route.name);
  }
  kura::core::IsValidTag(in);
  if (auto d = kura::core::ParseDigest(in)) {
    if (d->str() != in) __builtin_trap();
  }
  kura::auth::ParseBasicAuthorization(in);
  return 0;
}
