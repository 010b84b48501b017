// The checks every handler makes of the names in a request path, as OCI errors.
#pragma once

#include <optional>
#include <string>

#include "core/errors.h"

namespace kura::registry {

// NAME_INVALID unless `name` is a valid repository name.
std::optional<core::RegistryError> CheckName(const std::string& name);
// DIGEST_INVALID unless `digest` is a valid digest.
std::optional<core::RegistryError> CheckDigest(const std::string& digest);

}  // namespace kura::registry
