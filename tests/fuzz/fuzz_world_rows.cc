// libFuzzer target: the body of a saved allowlist row, read at start-up by a reader of kura's own
// (admin/world_rows.cc) with nlohmann::json behind it. Whatever the bytes, restoring must either
// refuse them with DocumentError or give the entry nlohmann::json reads from them; and a restored
// World must save again (every description valid UTF-8).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "admin/world_document.h"
#include "admin/world_rows.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  std::vector<kura::store::WorldRow> rows = {
      {"account", "A", R"({"name":"A"})"},
      {"region", "r1", R"({"name":"r1"})"},
      {"instance", "acme",
       R"({"account":"A","edition":"enterprise","incarnation":"inc","internet_enabled":true,"region":"r1"})"},
      {"allow", "acme 192.0.2.0/24", body}};
  try {
    kura::access::World w = kura::admin::WorldFromRows(rows, "kura.test");
    const auto& entries = w.FindInstance("acme")->internet.allowlist.entries();
    if (entries.size() != 1) __builtin_trap();
    auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j["description"].is_string() ||
        j["description"].get<std::string>() != entries[0].description || !j["cidr"].is_string() ||
        kura::core::Cidr::Parse(j["cidr"].get<std::string>()) != entries[0].cidr) {
      __builtin_trap();
    }
    (void)kura::admin::WorldToRows(w);  // throws (and so traps) if a description is not UTF-8
  } catch (const kura::admin::DocumentError&) {
  }
  return 0;
}
