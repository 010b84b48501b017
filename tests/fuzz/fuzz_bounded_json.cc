// libFuzzer target: every JSON body kura accepts (manifests, indexes, admin bodies, up to 16 MiB)
// goes through core::ParseBoundedJson. Whatever it accepts must be nested within the bound and
// must serialize again without throwing (the crash of 100,000 '[' was in dump()), to a text that
// parses back to the same value; what it refuses comes with a reason.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/bounded_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string why;
  auto doc = kura::core::ParseBoundedJson(in, &why);
  if (!doc) {
    if (why.empty()) __builtin_trap();
    return 0;
  }
  std::string again = doc->dump();
  if (kura::core::JsonNestingDepth(again, kura::core::kMaxJsonDepth) > kura::core::kMaxJsonDepth) {
    __builtin_trap();
  }
  auto reparsed = kura::core::ParseBoundedJson(again, &why);
  if (!reparsed || reparsed->dump() != again) __builtin_trap();
  return 0;
}
