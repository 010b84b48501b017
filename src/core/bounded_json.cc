#include "core/bounded_json.h"

namespace kura::core {

int JsonNestingDepth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > limit) return deepest;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

std::optional<nlohmann::json> ParseBoundedJson(std::string_view text, std::string* why,
                                               int max_depth) {
  if (JsonNestingDepth(text, max_depth) > max_depth) {
    *why = "nested deeper than " + std::to_string(max_depth) + " levels";
    return std::nullopt;
  }
  // The lexer rejects strings that are not UTF-8, so whatever is accepted can be dumped again.
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    *why = "not valid JSON";
    return std::nullopt;
  }
  return doc;
}

}  // namespace kura::core
