// Checks of the text the admin API takes from a request path or body before it stores or echoes
// it. A string that nlohmann::json cannot write (invalid UTF-8) once made a stored user name
// unlistable; a control character in a stored name or description reaches terminals and logs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kura::admin {

// The longest user name and allowlist entry description stored.
inline constexpr size_t kMaxUserNameBytes = 64;
inline constexpr size_t kMaxDescriptionBytes = 256;

// True if text is well-formed UTF-8: no stray continuation or truncated sequence, no overlong
// form, no UTF-16 surrogate, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view text);

// True if text (valid UTF-8) holds a control character: U+0000-U+001F, U+007F or U+0080-U+009F.
bool HasControlCharacter(std::string_view text);

// Why `user` cannot be a user name of an instance, or nullopt if it can: 1 to
// kMaxUserNameBytes bytes of UTF-8, without control characters or ':' (Basic auth splits there).
std::optional<std::string> UserNameProblem(std::string_view user);

// Why `description` cannot describe an allowlist entry, or nullopt if it can: at most
// kMaxDescriptionBytes bytes of UTF-8 without control characters (empty is fine).
std::optional<std::string> DescriptionProblem(std::string_view description);

// text for a message: in double quotes, at most 80 bytes of it, with every byte of invalid
// UTF-8 and every control character written as \xNN.
std::string Printable(std::string_view text);

}  // namespace kura::admin
