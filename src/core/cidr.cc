#include "core/cidr.h"

#include <array>
#include <charconv>
#include <cstddef>

namespace kura::core {
namespace {

// The value with its lowest `bits` bits set (0..128).
Uint128 LowBits(int bits) {
  if (bits <= 0) return {};
  if (bits >= 128) return {~uint64_t{0}, ~uint64_t{0}};
  if (bits >= 64) return {(uint64_t{1} << (bits - 64)) - 1, ~uint64_t{0}};
  return {0, (uint64_t{1} << bits) - 1};
}

Uint128 And(Uint128 a, Uint128 b) {
  return {a.high & b.high, a.low & b.low};
}
Uint128 Or(Uint128 a, Uint128 b) {
  return {a.high | b.high, a.low | b.low};
}
Uint128 Not(Uint128 a) {
  return {~a.high, ~a.low};
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void SetError(std::string* error, std::string_view what, std::string_view text,
              const std::string& why) {
  if (error == nullptr) return;
  *error = "invalid ";
  error->append(what);
  error->append(" \"");
  error->append(text);
  error->append("\": ");
  error->append(why);
}

// Parses a dotted quad. On failure stores the reason (without the "invalid ..." prefix).
std::optional<uint32_t> ParseV4(std::string_view text, std::string* why) {
  uint32_t value = 0;
  int octets = 0;
  size_t pos = 0;
  while (true) {
    size_t end = text.find('.', pos);
    std::string_view part = text.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (part.empty()) {
      *why = "empty octet";
      return std::nullopt;
    }
    for (char c : part) {
      if (!IsDigit(c)) {
        *why = "'" + std::string(1, c) + "' is not a decimal digit";
        return std::nullopt;
      }
    }
    if (part.size() > 1 && part[0] == '0') {
      *why = "octet " + std::string(part) + " has a leading zero";
      return std::nullopt;
    }
    // At most three digits, all checked above: the value, without a string to parse.
    int octet = 0;
    for (char c : part.substr(0, 3)) octet = octet * 10 + (c - '0');
    if (part.size() > 3 || octet > 255) {
      *why = "octet " + std::string(part) + " is greater than 255";
      return std::nullopt;
    }
    if (++octets > 4) {
      *why = "more than four octets";
      return std::nullopt;
    }
    value = (value << 8) | static_cast<uint32_t>(octet);
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  if (octets != 4) {
    *why = "expected four octets, found " + std::to_string(octets);
    return std::nullopt;
  }
  return value;
}

// Parses colon-separated hex groups (no "::") into `groups`, allowing a dotted quad at the end if
// `last_may_be_v4`. Returns false with the reason on failure.
bool ParseGroups(std::string_view text, bool last_may_be_v4, std::array<uint16_t, 8>& groups,
                 int& count, std::string* why) {
  count = 0;
  if (text.empty()) return true;
  size_t pos = 0;
  while (true) {
    size_t end = text.find(':', pos);
    std::string_view part = text.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (part.empty()) {
      *why = "empty group";
      return false;
    }
    if (end == std::string_view::npos && last_may_be_v4 &&
        part.find('.') != std::string_view::npos) {
      std::optional<uint32_t> v4 = ParseV4(part, why);
      if (!v4) return false;
      if (count + 2 > 8) {
        *why = "more than eight groups";
        return false;
      }
      groups[count++] = static_cast<uint16_t>(*v4 >> 16);
      groups[count++] = static_cast<uint16_t>(*v4 & 0xffff);
      return true;
    }
    if (part.size() > 4) {
      *why = "group " + std::string(part) + " has more than four hex digits";
      return false;
    }
    uint16_t group = 0;
    for (char c : part) {
      int digit = HexValue(c);
      if (digit < 0) {
        *why = "'" + std::string(1, c) + "' is not a hex digit";
        return false;
      }
      group = static_cast<uint16_t>(group * 16 + digit);
    }
    if (count == 8) {
      *why = "more than eight groups";
      return false;
    }
    groups[count++] = group;
    if (end == std::string_view::npos) return true;
    pos = end + 1;
  }
}

std::optional<Uint128> ParseV6(std::string_view text, std::string* why) {
  if (text.find('%') != std::string_view::npos) {
    *why = "zone identifiers are not accepted";
    return std::nullopt;
  }
  std::array<uint16_t, 8> head{}, tail{};
  int head_count = 0, tail_count = 0;
  size_t gap = text.find("::");
  if (gap == std::string_view::npos) {
    if (!ParseGroups(text, true, head, head_count, why)) return std::nullopt;
    if (head_count != 8) {
      *why = "expected eight groups or \"::\", found " + std::to_string(head_count) + " groups";
      return std::nullopt;
    }
  } else {
    std::string_view left = text.substr(0, gap);
    std::string_view right = text.substr(gap + 2);
    if (right.find("::") != std::string_view::npos) {
      *why = "\"::\" appears more than once";
      return std::nullopt;
    }
    if (!right.empty() && right[0] == ':') {
      *why = "\":::\" is not valid";
      return std::nullopt;
    }
    if (!ParseGroups(left, false, head, head_count, why)) return std::nullopt;
    if (!ParseGroups(right, true, tail, tail_count, why)) return std::nullopt;
    if (head_count + tail_count > 7) {
      *why = "\"::\" stands for no group: there are already eight";
      return std::nullopt;
    }
  }
  std::array<uint16_t, 8> all{};
  for (int i = 0; i < head_count; ++i) all[i] = head[i];
  for (int i = 0; i < tail_count; ++i) all[8 - tail_count + i] = tail[i];
  Uint128 value;
  for (int i = 0; i < 4; ++i) value.high = (value.high << 16) | all[i];
  for (int i = 4; i < 8; ++i) value.low = (value.low << 16) | all[i];
  return value;
}

std::string FormatV4(uint32_t value) {
  char buf[16];  // "255.255.255.255": one small string, no temporaries (one per audit line)
  char* p = buf;
  for (int shift = 24; shift >= 0; shift -= 8) {
    p = std::to_chars(p, buf + sizeof buf, (value >> shift) & 0xff).ptr;
    if (shift > 0) *p++ = '.';
  }
  return std::string(buf, p);
}

std::string FormatV6(Uint128 value) {
  std::array<uint16_t, 8> groups{};
  for (int i = 0; i < 4; ++i) groups[i] = static_cast<uint16_t>(value.high >> (48 - 16 * i));
  for (int i = 0; i < 4; ++i) groups[4 + i] = static_cast<uint16_t>(value.low >> (48 - 16 * i));

  // RFC 5952: the first longest run of at least two zero groups becomes "::".
  int best_start = -1, best_length = 1;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_length) {
      best_start = i;
      best_length = j - i;
    }
    i = j;
  }

  static constexpr char kHex[] = "0123456789abcdef";
  auto hex = [](uint16_t group) {
    std::string out;
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      int digit = (group >> shift) & 0xf;
      if (digit != 0 || started || shift == 0) {
        out.push_back(kHex[digit]);
        started = true;
      }
    }
    return out;
  };

  std::string out;
  for (int i = 0; i < 8;) {
    if (i == best_start) {
      out += "::";
      i += best_length;
      continue;
    }
    if (!out.empty() && out.back() != ':') out.push_back(':');
    out += hex(groups[i]);
    ++i;
  }
  return out;
}

// Parses either family; on failure stores the reason (without the "invalid ..." prefix).
std::optional<IpAddress> ParseAddress(std::string_view text, std::string* why) {
  if (text.find(':') != std::string_view::npos) {
    std::optional<Uint128> value = ParseV6(text, why);
    if (value) return IpAddress::V6(*value);
    return std::nullopt;
  }
  if (text.empty()) {
    *why = "empty";
    return std::nullopt;
  }
  std::optional<uint32_t> value = ParseV4(text, why);
  if (value) return IpAddress::V4(*value);
  return std::nullopt;
}

}  // namespace

std::string_view IpFamilyName(IpFamily family) {
  return family == IpFamily::kV4 ? "IPv4" : "IPv6";
}

IpAddress IpAddress::FromValue(IpFamily family, Uint128 value) {
  if (family == IpFamily::kV4) return V4(static_cast<uint32_t>(value.low));
  return V6(value);
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text, std::string* error) {
  std::string why;
  std::optional<IpAddress> address = ParseAddress(text, &why);
  if (!address) {
    SetError(error, text.find(':') != std::string_view::npos ? "IPv6 address" : "IPv4 address",
             text, why);
  }
  return address;
}

bool IpAddress::IsV4Mapped() const {
  return !is_v4() && value_.high == 0 && (value_.low >> 32) == 0xffff;
}

IpAddress IpAddress::Unmapped() const {
  return IsV4Mapped() ? V4(static_cast<uint32_t>(value_.low)) : *this;
}

std::string IpAddress::ToString() const {
  if (is_v4()) return FormatV4(static_cast<uint32_t>(value_.low));
  if (IsV4Mapped()) return "::ffff:" + FormatV4(static_cast<uint32_t>(value_.low));
  return FormatV6(value_);
}

std::optional<Cidr> Cidr::Parse(std::string_view text, std::string* error) {
  size_t slash = text.find('/');
  std::string why;
  std::optional<IpAddress> address = ParseAddress(text.substr(0, slash), &why);
  if (!address) {
    SetError(error, "CIDR", text, why);
    return std::nullopt;
  }
  if (slash == std::string_view::npos) return Host(*address);

  std::string_view digits = text.substr(slash + 1);
  if (digits.empty()) {
    why = "prefix length is missing after '/'";
  } else if (digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos) {
    why = "prefix length \"" + std::string(digits) + "\" is not a decimal number";
  } else if (digits.size() > 1 && digits[0] == '0') {
    why = "prefix length " + std::string(digits) + " has a leading zero";
  } else if (int length = std::stoi(std::string(digits)); length > address->bit_width()) {
    why = "prefix length " + std::string(digits) + " is greater than " +
          std::to_string(address->bit_width());
  } else {
    Cidr cidr = *Enclosing(*address, length);
    if (cidr.network() == *address) return cidr;
    why = "host bits are set; the network is " + cidr.ToString();
  }
  SetError(error, "CIDR", text, why);
  return std::nullopt;
}

std::optional<Cidr> Cidr::Enclosing(const IpAddress& address, int length) {
  if (length < 0 || length > address.bit_width()) return std::nullopt;
  Uint128 host_mask = LowBits(address.bit_width() - length);
  return Cidr(IpAddress::FromValue(address.family(), And(address.value(), Not(host_mask))), length);
}

Cidr Cidr::Host(const IpAddress& address) {
  return Cidr(address, address.bit_width());
}

IpAddress Cidr::last() const {
  return IpAddress::FromValue(family(),
                              Or(network_.value(), LowBits(network_.bit_width() - length_)));
}

bool Cidr::Contains(const IpAddress& address) const {
  return address.family() == family() && network_ <= address && address <= last();
}

bool Cidr::Contains(const Cidr& other) const {
  return other.family() == family() && other.length_ >= length_ && Contains(other.network_);
}

bool Cidr::Overlaps(const Cidr& other) const {
  return Contains(other) || other.Contains(*this);
}

std::string Cidr::ToString() const {
  return network_.ToString() + "/" + std::to_string(length_);
}

}  // namespace kura::core
