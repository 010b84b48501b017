#include "access/model.h"

namespace kura::access {

bool IsValidIncarnation(std::string_view incarnation) {
  if (incarnation.empty() || incarnation.size() > kMaxIncarnationLength) return false;
  for (char c : incarnation) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string_view EditionName(Edition edition) {
  return edition == Edition::kPersonal ? "personal" : "enterprise";
}

std::optional<Edition> ParseEdition(std::string_view name) {
  if (name == "personal") return Edition::kPersonal;
  if (name == "enterprise") return Edition::kEnterprise;
  return std::nullopt;
}

const VpcBinding* VpcEndpointPolicy::FindBinding(std::string_view network) const {
  for (const VpcBinding& binding : bindings) {
    if (binding.network == network) return &binding;
  }
  return nullptr;
}

}  // namespace kura::access
