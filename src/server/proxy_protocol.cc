#include "server/proxy_protocol.h"

#include <algorithm>
#include <array>

namespace kura::server {
namespace {

constexpr std::string_view kV1Signature = "PROXY ";
constexpr size_t kV2FixedSize = 16;
constexpr size_t kMaxVpcIdSize = 255;

// v2 command (low nibble of byte 13), address family (high nibble of byte 14) and transport
// (low nibble of byte 14).
constexpr uint8_t kCommandLocal = 0x0, kCommandProxy = 0x1;
constexpr uint8_t kFamilyUnspec = 0x0, kFamilyInet = 0x1, kFamilyInet6 = 0x2, kFamilyUnix = 0x3;
constexpr uint8_t kTransportUnspec = 0x0, kTransportStream = 0x1, kTransportDgram = 0x2;

// version 0: neither (the signature is wrong).
ProxyParseResult Invalid(int version, std::string_view why) {
  ProxyParseResult result;
  result.state = ProxyParse::kInvalid;
  if (version != 0) result.error = "PROXY v" + std::to_string(version) + ": ";
  result.error += why;
  return result;
}

ProxyParseResult Done(size_t consumed, ProxyHeader header) {
  ProxyParseResult result;
  result.state = ProxyParse::kDone;
  result.consumed = consumed;
  result.header = std::move(header);
  return result;
}

std::string Hex(unsigned value) {
  constexpr char kDigits[] = "0123456789abcdef";
  return std::string{'0', 'x', kDigits[(value >> 4) & 0xf], kDigits[value & 0xf]};
}

// `text` quoted for a message: printable US-ASCII as is, other bytes as \xNN, cut after 32
// bytes.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < 32; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x" + Hex(c).substr(2);
    }
  }
  out += text.size() > 32 ? "\"..." : "\"";
  return out;
}

uint8_t Byte(std::string_view data, size_t at) {
  return static_cast<uint8_t>(data[at]);
}

uint16_t Uint16At(std::string_view data, size_t at) {
  return static_cast<uint16_t>(Byte(data, at) << 8 | Byte(data, at + 1));
}

void AppendUint16(std::string& out, uint16_t value) {
  out += static_cast<char>(value >> 8);
  out += static_cast<char>(value & 0xff);
}

// Appends the `bytes` low-order bytes of `value`, most significant first.
void AppendBigEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

// ---- v1 ----

// A decimal port 0..65535 without leading zeros. On failure stores the reason in *why.
std::optional<uint16_t> ParsePort(std::string_view text, std::string_view name, std::string* why) {
  if (text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    *why = std::string(name) + " " + Quote(text) + " is not a decimal number 0..65535";
    return std::nullopt;
  }
  if (text.size() > 1 && text[0] == '0') {
    *why = std::string(name) + " " + Quote(text) + " has a leading zero";
    return std::nullopt;
  }
  unsigned value = 0;
  for (char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value > 65535) {
    *why = std::string(name) + " " + Quote(text) + " is greater than 65535";
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

// An address of the family `protocol` (TCP4 or TCP6) names. On failure stores the reason.
std::optional<core::IpAddress> ParseV1Address(std::string_view text, std::string_view protocol,
                                              std::string_view name, std::string* why) {
  std::string error;
  std::optional<core::IpAddress> address = core::IpAddress::Parse(text, &error);
  if (!address) {
    *why = std::string(name) + ": " + error;
    return std::nullopt;
  }
  if (address->is_v4() != (protocol == "TCP4")) {
    *why = std::string(protocol) + " " + std::string(name) + " " + Quote(text) + " is not an " +
           (protocol == "TCP4" ? "IPv4" : "IPv6") + " address";
    return std::nullopt;
  }
  return address;
}

// Parses a complete v1 line, `line` being the bytes before the CRLF (printable, starting with
// "PROXY ") and `consumed` the length with the CRLF.
ProxyParseResult ParseV1Line(std::string_view line, size_t consumed) {
  std::string_view rest = line.substr(kV1Signature.size());
  std::string_view protocol = rest.substr(0, rest.find(' '));
  rest.remove_prefix(protocol.size());
  ProxyHeader header;
  if (protocol == "UNKNOWN") {  // the receiver must ignore the rest of the line
    header.local = true;
    return Done(consumed, std::move(header));
  }
  if (protocol != "TCP4" && protocol != "TCP6") {
    return Invalid(1, "protocol " + Quote(protocol) + " is not TCP4, TCP6 or UNKNOWN");
  }
  std::array<std::string_view, 4> fields;
  size_t count = 0;
  while (!rest.empty()) {  // rest is " f1 f2 f3 f4"
    rest.remove_prefix(1);
    std::string_view field = rest.substr(0, rest.find(' '));
    if (field.empty()) return Invalid(1, "empty field (fields are separated by exactly one space)");
    if (count < fields.size()) fields[count] = field;
    ++count;
    rest.remove_prefix(field.size());
  }
  if (count != fields.size()) {
    return Invalid(
        1, std::string(protocol) + " needs 4 fields after it, found " + std::to_string(count));
  }
  std::string why;
  header.source = ParseV1Address(fields[0], protocol, "source address", &why);
  if (!header.source) return Invalid(1, why);
  header.destination = ParseV1Address(fields[1], protocol, "destination address", &why);
  if (!header.destination) return Invalid(1, why);
  std::optional<uint16_t> port = ParsePort(fields[2], "source port", &why);
  if (!port) return Invalid(1, why);
  header.source_port = *port;
  port = ParsePort(fields[3], "destination port", &why);
  if (!port) return Invalid(1, why);
  header.destination_port = *port;
  return Done(consumed, std::move(header));
}

// `data` starts with "PROXY " (or a prefix of it).
ProxyParseResult ParseV1(std::string_view data) {
  size_t limit = std::min(data.size(), kMaxProxyV1Size);
  for (size_t i = 0; i < limit; ++i) {
    auto c = static_cast<unsigned char>(data[i]);
    if (c == '\r') {
      if (i + 1 >= kMaxProxyV1Size) break;  // the LF would be byte 108
      if (i + 1 == data.size()) return {};
      if (data[i + 1] != '\n')
        return Invalid(1, "CR at offset " + std::to_string(i) + " not followed by LF");
      return ParseV1Line(data.substr(0, i), i + 2);
    }
    if (c == '\n') return Invalid(1, "LF at offset " + std::to_string(i) + " without CR");
    if (c < 0x20 || c > 0x7e) {
      return Invalid(
          1, "byte " + Hex(c) + " at offset " + std::to_string(i) + " is not printable US-ASCII");
    }
  }
  if (data.size() >= kMaxProxyV1Size) {
    return Invalid(1, "no CRLF in the first " + std::to_string(kMaxProxyV1Size) + " bytes");
  }
  return {};
}

// ---- v2 ----

bool IsVpcIdByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

// Parses the TLVs in `tlvs`, which starts at offset `offset` of the header, into `header`.
// Returns the reason on failure, else an empty string.
std::string ParseTlvs(std::string_view tlvs, size_t offset, ProxyHeader& header) {
  while (!tlvs.empty()) {
    if (tlvs.size() < 3) {
      return "TLV at offset " + std::to_string(offset) + ": " + std::to_string(tlvs.size()) +
             " bytes left, a TLV needs at least 3";
    }
    uint8_t type = Byte(tlvs, 0);
    uint16_t length = Uint16At(tlvs, 1);
    if (length > tlvs.size() - 3) {
      return "TLV " + Hex(type) + " at offset " + std::to_string(offset) + " declares " +
             std::to_string(length) + " value bytes, only " + std::to_string(tlvs.size() - 3) +
             " left in the header";
    }
    std::string_view value = tlvs.substr(3, length);
    if ((type == kProxyTlvAws || type == kProxyTlvAlibaba) && !value.empty() && value[0] == 0x01) {
      std::string_view id = value.substr(1);
      if (id.empty() || id.size() > kMaxVpcIdSize ||
          !std::all_of(id.begin(), id.end(), IsVpcIdByte)) {
        return "TLV " + Hex(type) + " at offset " + std::to_string(offset) + ": VPC id " +
               Quote(id) + " is not 1.." + std::to_string(kMaxVpcIdSize) +
               " bytes of [A-Za-z0-9._-]";
      }
      if (header.vpc_id && *header.vpc_id != id) {
        return "TLV " + Hex(type) + " at offset " + std::to_string(offset) + ": VPC id " +
               Quote(id) + " conflicts with " + Quote(*header.vpc_id);
      }
      header.vpc_id = std::string(id);
    }
    header.tlvs.emplace_back(type, std::string(value));
    tlvs.remove_prefix(3 + length);
    offset += 3 + length;
  }
  return {};
}

core::IpAddress V6At(std::string_view data, size_t at) {
  core::Uint128 value;
  for (size_t i = 0; i < 8; ++i) value.high = value.high << 8 | Byte(data, at + i);
  for (size_t i = 8; i < 16; ++i) value.low = value.low << 8 | Byte(data, at + i);
  return core::IpAddress::V6(value);
}

// `data` starts with the v2 signature.
ProxyParseResult ParseV2(std::string_view data) {
  if (data.size() <= 12) return {};
  uint8_t version = Byte(data, 12) >> 4, command = Byte(data, 12) & 0xf;
  if (version != 2) return Invalid(2, "version " + std::to_string(version) + ", expected 2");
  if (command != kCommandLocal && command != kCommandProxy) {
    return Invalid(2, "command " + Hex(command) + " is neither LOCAL (0x00) nor PROXY (0x01)");
  }
  if (data.size() <= 13) return {};
  uint8_t family = Byte(data, 13) >> 4, transport = Byte(data, 13) & 0xf;
  if (family > kFamilyUnix) {
    return Invalid(2, "address family " + Hex(family) + " is not UNSPEC, INET, INET6 or UNIX");
  }
  if (transport > kTransportDgram) {
    return Invalid(2, "transport " + Hex(transport) + " is not UNSPEC, STREAM or DGRAM");
  }
  if (data.size() < kV2FixedSize) return {};
  size_t length = Uint16At(data, 14);
  if (kV2FixedSize + length > kMaxProxyV2Size) {
    return Invalid(2, "header of " + std::to_string(kV2FixedSize + length) +
                          " bytes is longer than " + std::to_string(kMaxProxyV2Size));
  }
  ProxyHeader header;
  size_t total = kV2FixedSize + length;
  if (command == kCommandLocal || family == kFamilyUnspec || transport == kTransportUnspec) {
    // No addresses to use: skip the block unread.
    if (data.size() < total) return {};
    header.local = true;
    return Done(total, std::move(header));
  }
  size_t address_size = family == kFamilyInet ? 12 : family == kFamilyInet6 ? 36 : 216;
  if (length < address_size) {
    return Invalid(2, "address length " + std::to_string(length) + " is shorter than the " +
                          std::to_string(address_size) + " bytes of family " + Hex(family));
  }
  if (data.size() < total) return {};
  if (family == kFamilyUnix || transport != kTransportStream) {
    header.local = true;  // not TCP: the spec's fallback to UNSPEC
  } else if (family == kFamilyInet) {
    header.source = core::IpAddress::V4(uint32_t{Uint16At(data, 16)} << 16 | Uint16At(data, 18));
    header.destination =
        core::IpAddress::V4(uint32_t{Uint16At(data, 20)} << 16 | Uint16At(data, 22));
    header.source_port = Uint16At(data, 24);
    header.destination_port = Uint16At(data, 26);
  } else {
    header.source = V6At(data, 16);
    header.destination = V6At(data, 32);
    header.source_port = Uint16At(data, 48);
    header.destination_port = Uint16At(data, 50);
  }
  size_t tlv_offset = kV2FixedSize + address_size;
  std::string why = ParseTlvs(data.substr(tlv_offset, total - tlv_offset), tlv_offset, header);
  if (!why.empty()) return Invalid(2, why);
  return Done(total, std::move(header));
}

}  // namespace

ProxyParseResult ParseProxyHeader(std::string_view data) {
  if (data.empty()) return {};
  std::string_view signature = data[0] == 'P' ? kV1Signature : kProxyV2Signature;
  std::string_view start = data.substr(0, signature.size());
  if (signature.substr(0, start.size()) != start) {
    return Invalid(0,
                   "not a PROXY protocol header (starts with " + Quote(data.substr(0, 16)) + ")");
  }
  return signature == kV1Signature ? ParseV1(data) : ParseV2(data);
}

std::string BuildProxyV1(const ProxyHeader& header) {
  if (header.local) return "PROXY UNKNOWN\r\n";
  std::string out(kV1Signature);
  out += header.source->is_v4() ? "TCP4 " : "TCP6 ";
  out += header.source->ToString() + " " + header.destination->ToString() + " ";
  out += std::to_string(header.source_port) + " " + std::to_string(header.destination_port);
  return out + "\r\n";
}

std::string BuildProxyV2(const ProxyHeader& header) {
  std::string out(kProxyV2Signature);
  if (header.local) {
    out += static_cast<char>(0x20 | kCommandLocal);
    out += static_cast<char>(kFamilyUnspec << 4 | kTransportUnspec);
    AppendUint16(out, 0);
    return out;
  }
  bool v4 = header.source->is_v4();
  out += static_cast<char>(0x20 | kCommandProxy);
  out += static_cast<char>((v4 ? kFamilyInet : kFamilyInet6) << 4 | kTransportStream);
  AppendUint16(out, 0);  // the length, set below
  for (const core::IpAddress* address : {&*header.source, &*header.destination}) {
    if (v4) {
      AppendBigEndian(out, address->value().low, 4);
    } else {
      AppendBigEndian(out, address->value().high, 8);
      AppendBigEndian(out, address->value().low, 8);
    }
  }
  AppendUint16(out, header.source_port);
  AppendUint16(out, header.destination_port);
  for (const auto& [type, value] : header.tlvs) {
    out += static_cast<char>(type);
    AppendUint16(out, static_cast<uint16_t>(value.size()));
    out += value;
  }
  size_t length = out.size() - kV2FixedSize;
  out[14] = static_cast<char>((length >> 8) & 0xff);
  out[15] = static_cast<char>(length & 0xff);
  return out;
}

ProxyTlv ProxyVpcTlv(uint8_t type, std::string_view id) {
  return {type, "\x01" + std::string(id)};
}

}  // namespace kura::server
