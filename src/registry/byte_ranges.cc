#include "registry/byte_ranges.h"

#include <charconv>

namespace kura::registry {

std::optional<uint64_t> ParseUint(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Parses a single "bytes=first-last", "bytes=first-" or "bytes=-suffix" against a blob of
// `size` bytes. Returns [first, last] or nullopt when unsatisfiable or malformed.
std::optional<std::pair<uint64_t, uint64_t>> ParseByteRange(std::string_view header,
                                                            uint64_t size) {
  constexpr std::string_view kPrefix = "bytes=";
  if (header.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view spec = header.substr(kPrefix.size());
  if (spec.find(',') != std::string_view::npos) return std::nullopt;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos || size == 0) return std::nullopt;
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  if (a.empty()) {
    auto suffix = ParseUint(b);
    if (!suffix || *suffix == 0) return std::nullopt;
    uint64_t n = std::min(*suffix, size);
    return std::pair{size - n, size - 1};
  }
  auto first = ParseUint(a);
  if (!first || *first >= size) return std::nullopt;
  uint64_t last = size - 1;
  if (!b.empty()) {
    auto l = ParseUint(b);
    if (!l || *l < *first) return std::nullopt;
    last = std::min(*l, size - 1);
  }
  return std::pair{*first, last};
}

// Parses "first-last" of a PATCH's Content-Range (optionally "bytes first-last/total").
std::optional<std::pair<uint64_t, uint64_t>> ParseContentRange(std::string_view v) {
  if (v.substr(0, 6) == "bytes ") v.remove_prefix(6);
  if (v.substr(0, 6) == "bytes=") v.remove_prefix(6);
  v = v.substr(0, v.find('/'));
  size_t dash = v.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto first = ParseUint(v.substr(0, dash));
  auto last = ParseUint(v.substr(dash + 1));
  if (!first || !last || *last < *first) return std::nullopt;
  return std::pair{*first, *last};
}

}  // namespace kura::registry
