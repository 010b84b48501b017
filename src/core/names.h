// The grammar of repository names, tags and manifest references (OCI distribution-spec,
// "Pulling manifests" and "Workflow categories").
#pragma once

#include <string_view>

namespace kura::core {

// The longest repository name accepted, as CNCF distribution does (hostname included there).
inline constexpr size_t kMaxRepositoryNameLength = 255;

// True if `name` matches
//   [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
// and is at most kMaxRepositoryNameLength long.
bool IsValidRepositoryName(std::string_view name);

// True if `tag` matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
bool IsValidTag(std::string_view tag);

}  // namespace kura::core
