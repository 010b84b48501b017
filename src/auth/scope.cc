#include "auth/scope.h"

#include <algorithm>

namespace kura::auth {
namespace {

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool IsResourceTypeValue(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsLowerAlnum);
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '/' || c == ':';
}

bool IsActionSyntax(std::string_view a) {
  if (a == kActionAll) return true;
  return !a.empty() && std::all_of(a.begin(), a.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// "repository" or "repository(plugin)" -> "repository"; nullopt if neither.
std::optional<std::string_view> ResourceTypeWithoutClass(std::string_view type) {
  size_t open = type.find('(');
  if (open == std::string_view::npos) {
    if (!IsResourceTypeValue(type)) return std::nullopt;
    return type;
  }
  if (type.back() != ')') return std::nullopt;
  std::string_view base = type.substr(0, open);
  std::string_view cls = type.substr(open + 1, type.size() - open - 2);
  if (!IsResourceTypeValue(base) || !IsResourceTypeValue(cls)) return std::nullopt;
  return base;
}

// One "type:name:actions". Returns nullopt if malformed.
std::optional<Access> ParseResourceScope(std::string_view text) {
  size_t first = text.find(':');
  size_t last = text.rfind(':');
  if (first == std::string_view::npos || first == last) return std::nullopt;
  auto type = ResourceTypeWithoutClass(text.substr(0, first));
  if (!type) return std::nullopt;
  std::string_view name = text.substr(first + 1, last - first - 1);
  if (name.empty() || !std::all_of(name.begin(), name.end(), IsNameChar)) return std::nullopt;

  Access access{std::string(*type), std::string(name), {}};
  std::string_view actions = text.substr(last + 1);
  while (true) {
    size_t comma = actions.find(',');
    std::string_view action = actions.substr(0, comma);
    if (!action.empty()) {
      if (!IsActionSyntax(action)) return std::nullopt;
      access.actions.emplace(action);
    }
    if (comma == std::string_view::npos) break;
    actions.remove_prefix(comma + 1);
  }
  if (access.actions.empty()) return std::nullopt;
  return access;
}

// Adds `access` to `list`, merging with an entry for the same resource.
void MergeInto(std::vector<Access>& list, Access access) {
  for (Access& existing : list) {
    if (existing.type == access.type && existing.name == access.name) {
      existing.actions.merge(access.actions);
      return;
    }
  }
  list.push_back(std::move(access));
}

// Parses `scope` into `list`. Returns false if malformed or holding no resource scope.
bool ParseScopeInto(std::string_view scope, std::vector<Access>& list) {
  bool any = false;
  while (!scope.empty()) {
    size_t space = scope.find(' ');
    std::string_view item = scope.substr(0, space);
    if (!item.empty()) {
      auto access = ParseResourceScope(item);
      if (!access) return false;
      MergeInto(list, std::move(*access));
      any = true;
    }
    if (space == std::string_view::npos) break;
    scope.remove_prefix(space + 1);
  }
  return any;
}

}  // namespace

bool IsKnownAction(std::string_view action) {
  return action == kActionPull || action == kActionPush || action == kActionDelete ||
         action == kActionAll;
}

std::optional<std::vector<Access>> ParseScope(std::string_view scope) {
  std::vector<Access> list;
  if (!ParseScopeInto(scope, list)) return std::nullopt;
  return list;
}

std::optional<std::vector<Access>> ParseScopeParams(const std::vector<std::string>& params) {
  std::vector<Access> list;
  for (const std::string& param : params) {
    if (param.empty()) continue;
    if (!ParseScopeInto(param, list)) return std::nullopt;
  }
  return list;
}

std::string FormatAccess(const Access& access) {
  std::string out = access.type + ":" + access.name + ":";
  bool first = true;
  for (const std::string& action : access.actions) {
    if (!first) out += ',';
    out += action;
    first = false;
  }
  return out;
}

std::string FormatScope(const std::vector<Access>& access) {
  std::string out;
  for (const Access& a : access) {
    if (!out.empty()) out += ' ';
    out += FormatAccess(a);
  }
  return out;
}

std::string QuoteHeaderValue(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out += '"';
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) continue;
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string BearerChallenge(std::string_view realm, std::string_view service,
                            std::optional<std::string_view> scope,
                            std::optional<std::string_view> error) {
  std::string out = "Bearer realm=" + QuoteHeaderValue(realm);
  out += ",service=" + QuoteHeaderValue(service);
  if (scope && !scope->empty()) out += ",scope=" + QuoteHeaderValue(*scope);
  if (error && !error->empty()) out += ",error=" + QuoteHeaderValue(*error);
  return out;
}

}  // namespace kura::auth
