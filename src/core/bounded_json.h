// JSON from clients, parsed with a bound on its nesting. nlohmann's parser is iterative, but
// dump(), comparison and copy recurse once per level: a 200 KB body of 100,000 '[' overflowed the
// stack of the thread that re-serialized it. Every body kura accepts goes through here.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace kura::core {

// Deeper than any manifest, index or admin body needs (an OCI image index nests 4 levels).
inline constexpr int kMaxJsonDepth = 64;

// The deepest nesting of arrays and objects in `text`, counting brackets outside strings; stops
// counting once `limit` is passed (returns limit + 1). Does not validate the text.
int JsonNestingDepth(std::string_view text, int limit);

// Parses `text` as JSON nested at most `max_depth` levels. nullopt with *why (one line: "not
// valid JSON", "nested deeper than 64 levels") when it is malformed, too deep, or holds a string
// that is not valid UTF-8.
std::optional<nlohmann::json> ParseBoundedJson(std::string_view text, std::string* why,
                                               int max_depth = kMaxJsonDepth);

}  // namespace kura::core
