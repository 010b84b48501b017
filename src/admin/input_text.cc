#include "admin/input_text.h"

#include <cstdint>

namespace kura::admin {
namespace {

// The length of the well-formed UTF-8 sequence at text[i], or 0 if there is none there; its
// code point in *code_point.
size_t SequenceAt(std::string_view text, size_t i, uint32_t* code_point) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  }
  size_t length;
  uint32_t cp;
  uint32_t min;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, cp = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, cp = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return length;
}

bool IsControl(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  uint32_t cp;
  for (size_t i = 0; i < text.size();) {
    size_t n = SequenceAt(text, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool HasControlCharacter(std::string_view text) {
  uint32_t cp;
  for (size_t i = 0; i < text.size();) {
    size_t n = SequenceAt(text, i, &cp);
    if (n == 0) return false;
    if (IsControl(cp)) return true;
    i += n;
  }
  return false;
}

std::optional<std::string> UserNameProblem(std::string_view user) {
  const std::string what = "invalid user name " + Printable(user) + ": ";
  if (user.empty()) return what + "it is empty";
  if (user.size() > kMaxUserNameBytes) {
    return what + "it is longer than " + std::to_string(kMaxUserNameBytes) + " bytes";
  }
  if (!IsValidUtf8(user)) return what + "it is not valid UTF-8";
  if (HasControlCharacter(user)) return what + "it holds a control character";
  if (user.find(':') != std::string_view::npos) return what + "it holds ':'";
  return std::nullopt;
}

std::optional<std::string> DescriptionProblem(std::string_view description) {
  const std::string what = "invalid description " + Printable(description) + ": ";
  if (description.size() > kMaxDescriptionBytes) {
    return what + "it is longer than " + std::to_string(kMaxDescriptionBytes) + " bytes";
  }
  if (!IsValidUtf8(description)) return what + "it is not valid UTF-8";
  if (HasControlCharacter(description)) return what + "it holds a control character";
  return std::nullopt;
}

std::string Printable(std::string_view text) {
  constexpr size_t kMaxShown = 80;
  constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  uint32_t cp;
  size_t i = 0;
  while (i < text.size() && i < kMaxShown) {
    size_t n = SequenceAt(text, i, &cp);
    if (n == 0 || IsControl(cp)) {
      // The bytes of a control character (one, or two for C1) or one byte of bad UTF-8.
      for (size_t k = 0; k < (n == 0 ? 1 : n); ++k) {
        auto b = static_cast<unsigned char>(text[i + k]);
        out += "\\x";
        out += kHex[b >> 4];
        out += kHex[b & 15];
      }
      i += n == 0 ? 1 : n;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  out += '"';
  if (i < text.size()) out += "...";
  return out;
}

}  // namespace kura::admin
