// PROXY protocol v1 (text) and v2 (binary) headers, as specified by HAProxy's
// proxy-protocol.txt: a trusted relay (load balancer, cloud endpoint) sends one header at the
// start of a TCP connection naming the client it relays for. This file parses such a header
// from the first bytes of a connection, and builds one (for tests and the lab).
//
// The parser is strict and incremental. It is pure: no I/O, no allocation beyond the result,
// safe to call from several threads. Feed it everything received so far; it answers
//   kNeedMore  the bytes are a proper prefix of a header that may still be valid: read more and
//              call again with all the bytes (nothing is remembered between calls);
//   kDone      a complete, valid header of `consumed` bytes; the bytes after it (the proxied
//              protocol, e.g. HTTP) are not looked at;
//   kInvalid   not a valid header; `error` says why in one line. Decided as early as the bytes
//              allow: a first byte that starts neither signature is refused at once.
//
// v1: "PROXY TCP4 <src> <dst> <sport> <dport>\r\n" (TCP6 likewise, with IPv6 addresses), or
//     "PROXY UNKNOWN[ <anything>]\r\n"; at most 107 bytes with the CRLF. Exactly one space
//     between fields; addresses in canonical form (IPv4 without leading zeros; IPv6 without
//     zone); ports decimal 0..65535 without leading zeros; only printable US-ASCII before the
//     CRLF; a CR or LF alone is refused.
// v2: the 12-byte signature, then version 2 with command LOCAL or PROXY, a family/transport
//     byte of the specification (AF_UNSPEC, AF_INET, AF_INET6 or AF_UNIX; UNSPEC, STREAM or
//     DGRAM), a 16-bit length and that many bytes: the addresses, then TLVs. Headers longer than
//     kMaxProxyV2Size bytes in total are refused as soon as the length is known.
//     - PROXY with TCP over IPv4/IPv6: addresses and ports are returned; the TLVs after them
//       are parsed, bounds-checked and all returned.
//     - PROXY with any other valid combination (UDP, AF_UNIX, transport UNSPEC): `local` is set
//       and no address is returned (the spec's fallback to UNSPEC); TLVs are parsed as above.
//     - PROXY with AF_UNSPEC, and every LOCAL header: `local` is set and the rest of the block
//       is skipped unread, as the spec requires ("discard the protocol block").
//     Cloud TLVs naming the network the connection arrived from set `vpc_id`: AWS (type 0xEA,
//     subtype byte 0x01: VPC endpoint id) and Alibaba Cloud (type 0xE1, subtype byte 0x01:
//     VPC id). The id must be 1..255 bytes of [A-Za-z0-9._-]; two such TLVs naming different
//     ids make the header invalid. Other TLVs (including CRC32C, which is not verified) are
//     only returned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cidr.h"

namespace kura::server {

// The 12 bytes that start every v2 header.
inline constexpr std::string_view kProxyV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};
// Longest v1 header, CRLF included.
inline constexpr size_t kMaxProxyV1Size = 107;
// Longest v2 header accepted, the 16 fixed bytes included.
inline constexpr size_t kMaxProxyV2Size = 4096;
// TLV types of the cloud extensions that name the arrival network (first value byte 0x01).
inline constexpr uint8_t kProxyTlvAlibaba = 0xE1;
inline constexpr uint8_t kProxyTlvAws = 0xEA;

// One v2 TLV: type and value.
using ProxyTlv = std::pair<uint8_t, std::string>;

struct ProxyHeader {
  // v2 LOCAL command, v1 "UNKNOWN", or a v2 family/transport without TCP addresses: keep the
  // socket's addresses. Then source and destination are empty and the ports zero.
  bool local = false;
  std::optional<core::IpAddress> source, destination;  // same family when set
  uint16_t source_port = 0, destination_port = 0;
  std::optional<std::string> vpc_id;  // from a cloud TLV (see the top of this file)
  std::vector<ProxyTlv> tlvs;         // every v2 TLV as received, in order

  friend bool operator==(const ProxyHeader&, const ProxyHeader&) = default;
};

enum class ProxyParse { kNeedMore, kDone, kInvalid };

struct ProxyParseResult {
  ProxyParse state = ProxyParse::kNeedMore;
  size_t consumed = 0;  // length of the header when kDone, else 0
  ProxyHeader header;   // meaningful when kDone
  std::string error;    // one line when kInvalid ("PROXY v1: ..." / "PROXY v2: ..."), else empty
};

// Parses a PROXY v1 or v2 header at the start of `data`, which may be incomplete (then
// kNeedMore) and may continue past the header (those bytes are left alone). See the top of this
// file for what is accepted.
ProxyParseResult ParseProxyHeader(std::string_view data);

// Sender side, for tests and the lab. Neither function validates its input.

// Returns the v1 line for `header`: "PROXY UNKNOWN\r\n" if header.local, else
// "PROXY TCP4|TCP6 <source> <destination> <source_port> <destination_port>\r\n".
// REQUIRES: header.local, or source and destination set and of the same family.
std::string BuildProxyV1(const ProxyHeader& header);

// Returns the v2 header for `header`: if header.local, a LOCAL command with family UNSPEC and
// no payload; else a PROXY command, TCP over the addresses' family, the addresses, the ports,
// then header.tlvs in order. header.vpc_id is not written: add the TLV (ProxyVpcTlv) to tlvs.
// REQUIRES: header.local, or source and destination set and of the same family; every TLV
// value and the whole payload at most 65535 bytes.
std::string BuildProxyV2(const ProxyHeader& header);

// The TLV a cloud relay sends to name the arrival network: {type, "\x01" + id}, with type
// kProxyTlvAws or kProxyTlvAlibaba.
ProxyTlv ProxyVpcTlv(uint8_t type, std::string_view id);

}  // namespace kura::server
