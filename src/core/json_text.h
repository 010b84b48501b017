// JSON text written by hand where a response or log line is built for every request: the
// general JSON library builds a tree of values first, which costs an allocation per string.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kura::core {

// Appends `text` as a JSON string: quoted, with '"', '\\' and control characters escaped.
// Bytes of 0x80 and above are copied as they are (kura's strings are UTF-8 or ASCII).
void AppendJsonString(std::string& out, std::string_view text);

// Appends `items` as a JSON array of strings, e.g. ["a","b"].
void AppendJsonStringArray(std::string& out, const std::vector<std::string>& items);

}  // namespace kura::core
