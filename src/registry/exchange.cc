#include "registry/exchange.h"

#include <cctype>

namespace kura::registry {

std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  size_t i = 0;
  while (i < s.size()) {
    // Runs of plain characters are copied whole: every request path comes through here.
    size_t run = i;
    while (run < s.size() && s[run] != '%' && !(plus_is_space && s[run] == '+')) ++run;
    out.append(s.data() + i, run - i);
    if (run == s.size()) break;
    i = run;
    if (s[i] == '+') {
      out.push_back(' ');
      ++i;
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 3;
  }
  return out;
}

namespace {

// Calls `found(value)` for every `key=value` of the raw query, in order; stops when it returns
// false. A value with a bad escape is skipped.
template <class Found>
void ForEachQueryValue(std::string_view q, std::string_view key, Found found) {
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      std::optional<std::string> value =
          eq == std::string_view::npos ? std::string()
                                       : PercentDecode(pair.substr(eq + 1), /*plus_is_space=*/true);
      if (value && !found(std::move(*value))) return;
    }
    if (amp == std::string_view::npos) return;
    q.remove_prefix(amp + 1);
  }
}

}  // namespace

std::string PercentEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> Request::Query(std::string_view key) const {
  std::optional<std::string> first;
  ForEachQueryValue(query, key, [&](std::string value) {
    first = std::move(value);
    return false;
  });
  return first;
}

std::vector<std::string> Request::QueryAll(std::string_view key) const {
  std::vector<std::string> all;
  ForEachQueryValue(query, key, [&](std::string value) {
    all.push_back(std::move(value));
    return true;
  });
  return all;
}

Response ErrorResponse(const core::RegistryError& error) {
  Response r;
  r.status = static_cast<http::status>(error.status);
  r.fields.set(http::field::content_type, "application/json");
  r.body = core::ErrorBody(error);
  return r;
}

}  // namespace kura::registry
