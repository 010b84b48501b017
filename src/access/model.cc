#include "access/model.h"

namespace kura::access {

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
