#include "access/model.h"

namespace kura::access {

bool IsValidResourceId(std::string_view id) {
  if (id.empty() || id.size() > kMaxResourceIdLength) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(id.front())) return false;
  for (char c : id) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

NetworkKey ParseNetworkName(std::string_view name, std::string_view default_account) {
  size_t slash = name.find('/');
  if (slash == std::string_view::npos) return {std::string(default_account), std::string(name)};
  return {std::string(name.substr(0, slash)), std::string(name.substr(slash + 1))};
}

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
