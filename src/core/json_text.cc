#include "core/json_text.h"

#include <algorithm>
#include <cstdio>

namespace kura::core {

void AppendJsonString(std::string& out, std::string_view text) {
  out += '"';
  auto plain = [](char c) {
    return c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20;
  };
  if (std::all_of(text.begin(), text.end(), plain)) {  // the usual case: nothing to escape
    out += text;
    out += '"';
    return;
  }
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void AppendJsonStringArray(std::string& out, const std::vector<std::string>& items) {
  size_t bytes = 2;
  for (const std::string& item : items) bytes += item.size() + 3;
  out.reserve(out.size() + bytes);
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, items[i]);
  }
  out += ']';
}

}  // namespace kura::core
