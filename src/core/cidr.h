// IPv4 and IPv6 addresses and CIDR prefixes: strict parsing, containment, canonical text.
//
// Parsing never throws: it returns std::nullopt and, if asked, one line saying what is wrong
// ("invalid CIDR \"10.0.0.0/33\": prefix length 33 is greater than 32").
//
// What is accepted:
//   IPv4  four decimal octets 0..255, no leading zeros ("010.0.0.1" is ambiguous: octal or
//         decimal), no spaces.
//   IPv6  RFC 4291 text: up to eight groups of 1..4 hex digits, at most one "::", optionally an
//         IPv4 dotted quad as the last 32 bits. A zone ("fe80::1%eth0") is refused.
//   CIDR  <address>/<length>, length 0..32 or 0..128 in decimal without leading zeros. A bare
//         address is accepted and means the host prefix (/32 or /128), because allowlists take
//         "IP addresses or CIDRs". A prefix with host bits set ("1.2.3.4/24") is REFUSED, the
//         error naming the network it would be ("1.2.3.0/24"): silently widening an allowlist
//         entry from one host to 256 is the mistake a strict parser exists to catch.
//
// Output is canonical: IPv4 dotted quad; IPv6 per RFC 5952 (lower case, longest run of two or
// more zero groups as "::", IPv4-mapped addresses as "::ffff:1.2.3.4").
//
// All types here are small values, safe to copy and to read from several threads.

#ifndef KURA_CORE_CIDR_H_
#define KURA_CORE_CIDR_H_

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kura::core {

// The numeric value of an address, for ordering and interval arithmetic. Compares as a number.
struct Uint128 {
  uint64_t high = 0;
  uint64_t low = 0;

  friend constexpr auto operator<=>(const Uint128&, const Uint128&) = default;

  // The value plus one, wrapping from all ones to zero.
  constexpr Uint128 Next() const {
    return low == ~uint64_t{0} ? Uint128{high + 1, 0} : Uint128{high, low + 1};
  }
  // The value minus one, wrapping from zero to all ones.
  constexpr Uint128 Previous() const {
    return low == 0 ? Uint128{high - 1, ~uint64_t{0}} : Uint128{high, low - 1};
  }
};

enum class IpFamily { kV4, kV6 };

// "IPv4" or "IPv6".
std::string_view IpFamilyName(IpFamily family);

// An IPv4 or an IPv6 address. Ordered by family (IPv4 first), then by value.
class IpAddress {
 public:
  // 0.0.0.0.
  IpAddress() = default;

  static IpAddress V4(uint32_t value) { return IpAddress(IpFamily::kV4, Uint128{0, value}); }
  static IpAddress V6(Uint128 value) { return IpAddress(IpFamily::kV6, value); }
  // For IPv4 only the low 32 bits of value are kept.
  static IpAddress FromValue(IpFamily family, Uint128 value);

  // Parses an IPv4 or IPv6 address (see the top of this file). On failure returns nullopt and,
  // if error is not null, stores a one-line message in *error.
  static std::optional<IpAddress> Parse(std::string_view text, std::string* error = nullptr);

  IpFamily family() const { return family_; }
  bool is_v4() const { return family_ == IpFamily::kV4; }
  // IPv4 addresses are in the low 32 bits.
  Uint128 value() const { return value_; }
  // 32 or 128.
  int bit_width() const { return is_v4() ? 32 : 128; }

  // True for an IPv6 address in ::ffff:0:0/96, which is how a dual-stack socket reports an IPv4
  // peer.
  bool IsV4Mapped() const;
  // The IPv4 address of an IPv4-mapped IPv6 address; any other address unchanged.
  IpAddress Unmapped() const;

  // Canonical text (see the top of this file).
  std::string ToString() const;

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  IpAddress(IpFamily family, Uint128 value) : family_(family), value_(value) {}

  IpFamily family_ = IpFamily::kV4;
  Uint128 value_;
};

// A CIDR prefix: a network address with no host bits set, and a length.
class Cidr {
 public:
  // 0.0.0.0/0.
  Cidr() = default;

  // Parses "<address>/<length>" or a bare address (see the top of this file). On failure
  // returns nullopt and, if error is not null, stores a one-line message in *error.
  static std::optional<Cidr> Parse(std::string_view text, std::string* error = nullptr);

  // The prefix of the given length that contains address (host bits cleared), or nullopt if
  // length is not within 0..address.bit_width().
  static std::optional<Cidr> Enclosing(const IpAddress& address, int length);

  // The prefix holding exactly address (/32 or /128).
  static Cidr Host(const IpAddress& address);

  IpFamily family() const { return network_.family(); }
  int length() const { return length_; }
  // The first address (the network address).
  const IpAddress& network() const { return network_; }
  // The last address (for IPv4 the broadcast address).
  IpAddress last() const;

  // True if address is of the same family and inside this prefix.
  bool Contains(const IpAddress& address) const;
  // True if other is of the same family and entirely inside this prefix.
  bool Contains(const Cidr& other) const;
  // True if the two prefixes share an address (then one contains the other).
  bool Overlaps(const Cidr& other) const;

  // "<network>/<length>".
  std::string ToString() const;

  friend auto operator<=>(const Cidr&, const Cidr&) = default;

 private:
  Cidr(IpAddress network, int length) : network_(network), length_(length) {}

  IpAddress network_;
  int length_ = 0;
};

}  // namespace kura::core

#endif  // KURA_CORE_CIDR_H_
