// The numbers and byte ranges of registry requests: Range of a blob GET, Content-Range of an upload
// PATCH, and the page size n of listings. Pure parsers of client text.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace kura::registry {

// A decimal number with nothing around it, or nullopt (empty, sign, overflow, trailing text).
std::optional<uint64_t> ParseUint(std::string_view s);

// Parses a single "bytes=first-last", "bytes=first-" or "bytes=-suffix" against a blob of
// `size` bytes. Returns [first, last] or nullopt when unsatisfiable or malformed.
std::optional<std::pair<uint64_t, uint64_t>> ParseByteRange(std::string_view header, uint64_t size);

// Parses "first-last" of a PATCH's Content-Range (optionally "bytes first-last/total").
std::optional<std::pair<uint64_t, uint64_t>> ParseContentRange(std::string_view v);

}  // namespace kura::registry
