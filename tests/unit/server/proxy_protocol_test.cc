#include "server/proxy_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace kura::server {
namespace {

constexpr std::string_view kHttp = "GET /v2/ HTTP/1.1\r\nHost: kura\r\n\r\n";

core::IpAddress Ip(std::string_view text) {
  std::optional<core::IpAddress> address = core::IpAddress::Parse(text);
  EXPECT_TRUE(address) << text;
  return address.value_or(core::IpAddress());
}

std::string Uint16(uint16_t value) {
  return {static_cast<char>(value >> 8), static_cast<char>(value & 0xff)};
}

// A v2 header with the given version/command and family/transport bytes and payload.
std::string RawV2(uint8_t version_command, uint8_t family_transport, std::string_view payload) {
  std::string out(kProxyV2Signature);
  out += static_cast<char>(version_command);
  out += static_cast<char>(family_transport);
  out += Uint16(static_cast<uint16_t>(payload.size()));
  out += payload;
  return out;
}

std::string Tlv(uint8_t type, std::string_view value) {
  return static_cast<char>(type) + Uint16(static_cast<uint16_t>(value.size())) + std::string(value);
}

ProxyHeader Tcp(std::string_view source, uint16_t source_port, std::string_view destination,
                uint16_t destination_port, std::vector<ProxyTlv> tlvs = {}) {
  ProxyHeader header;
  header.source = Ip(source);
  header.destination = Ip(destination);
  header.source_port = source_port;
  header.destination_port = destination_port;
  header.tlvs = std::move(tlvs);
  return header;
}

ProxyHeader Local() {
  ProxyHeader header;
  header.local = true;
  return header;
}

// Parses `header` followed by HTTP bytes and expects it complete and equal to `expected`.
void ExpectDone(const std::string& header, const ProxyHeader& expected) {
  ProxyParseResult result = ParseProxyHeader(header + std::string(kHttp));
  ASSERT_EQ(result.state, ProxyParse::kDone) << result.error;
  EXPECT_EQ(result.consumed, header.size());
  EXPECT_EQ(result.header, expected);
  EXPECT_EQ(result.error, "");
}

// Expects `data` refused with an error containing `reason`.
void ExpectInvalid(std::string_view data, std::string_view reason) {
  ProxyParseResult result = ParseProxyHeader(data);
  EXPECT_EQ(result.state, ProxyParse::kInvalid) << testing::PrintToString(std::string(data));
  EXPECT_NE(result.error.find(reason), std::string::npos)
      << "error: " << result.error << "\nexpected to contain: " << reason;
  EXPECT_EQ(result.consumed, 0u);
}

// Feeds `header` + HTTP one byte at a time: kNeedMore until the header is complete, then kDone
// with the exact length whatever follows.
void ExpectIncremental(const std::string& header) {
  std::string data = header + std::string(kHttp);
  for (size_t n = 0; n < header.size(); ++n) {
    ProxyParseResult result = ParseProxyHeader(std::string_view(data).substr(0, n));
    ASSERT_EQ(result.state, ProxyParse::kNeedMore) << "after " << n << " bytes: " << result.error;
    EXPECT_EQ(result.consumed, 0u);
  }
  for (size_t n = header.size(); n <= data.size(); ++n) {
    ProxyParseResult result = ParseProxyHeader(std::string_view(data).substr(0, n));
    ASSERT_EQ(result.state, ProxyParse::kDone) << "after " << n << " bytes: " << result.error;
    EXPECT_EQ(result.consumed, header.size());
    EXPECT_EQ(data.substr(result.consumed, n - result.consumed),
              kHttp.substr(0, n - header.size()));
  }
}

// ---- v1 ----

TEST(ProxyProtocolV1Test, Tcp4) {
  ExpectDone("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
             Tcp("192.168.0.1", 56324, "192.168.0.11", 443));
  ExpectDone("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n",
             Tcp("0.0.0.0", 0, "255.255.255.255", 65535));
}

TEST(ProxyProtocolV1Test, Tcp6) {
  ExpectDone("PROXY TCP6 2001:db8::1 ::1 40000 5000\r\n", Tcp("2001:db8::1", 40000, "::1", 5000));
  ExpectDone("PROXY TCP6 ::ffff:10.0.0.1 2001:DB8::2 1 2\r\n",
             Tcp("::ffff:10.0.0.1", 1, "2001:db8::2", 2));
  // The longest TCP6 line of the specification: 104 bytes.
  std::string all_ones = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  std::string line = "PROXY TCP6 " + all_ones + " " + all_ones + " 65535 65535\r\n";
  EXPECT_EQ(line.size(), 104u);
  ExpectDone(line, Tcp(all_ones, 65535, all_ones, 65535));
}

TEST(ProxyProtocolV1Test, Unknown) {
  ExpectDone("PROXY UNKNOWN\r\n", Local());
  // Whatever follows UNKNOWN is ignored, up to the worst case of 107 bytes.
  ExpectDone("PROXY UNKNOWN 1.2.3.4 not-an-address 99999 x\r\n", Local());
  std::string all_ones = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  std::string line = "PROXY UNKNOWN " + all_ones + " " + all_ones + " 65535 65535\r\n";
  EXPECT_EQ(line.size(), kMaxProxyV1Size);
  ExpectDone(line, Local());
}

TEST(ProxyProtocolV1Test, IncrementalFeeding) {
  ExpectIncremental("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
  ExpectIncremental("PROXY TCP6 2001:db8::1 2001:db8::2 40000 5000\r\n");
  ExpectIncremental("PROXY UNKNOWN\r\n");
}

TEST(ProxyProtocolV1Test, StopsAtTheFirstCrlf) {
  std::string first = "PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\n";
  ProxyParseResult result = ParseProxyHeader(first + "PROXY TCP4 3.3.3.3 4.4.4.4 3 4\r\n");
  ASSERT_EQ(result.state, ProxyParse::kDone);
  EXPECT_EQ(result.consumed, first.size());
  EXPECT_EQ(result.header.source, Ip("1.1.1.1"));
}

TEST(ProxyProtocolV1Test, RefusesBadAddresses) {
  ExpectInvalid("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
                "PROXY v1: source address: invalid IPv4 address \"1.2.3\"");
  ExpectInvalid("PROXY TCP4 1.2.3.4 256.0.0.1 1 2\r\n",
                "destination address: invalid IPv4 address \"256.0.0.1\"");
  ExpectInvalid("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "leading zero");
  ExpectInvalid("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "TCP4 source address \"::1\" is not an IPv4");
  ExpectInvalid("PROXY TCP6 ::1 5.6.7.8 1 2\r\n",
                "TCP6 destination address \"5.6.7.8\" is not an IPv6");
  ExpectInvalid("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "zone");
  ExpectInvalid("PROXY TCP6 1::2::3 ::1 1 2\r\n", "source address: invalid IPv6 address");
  ExpectInvalid("PROXY TCP4 host.example 5.6.7.8 1 2\r\n", "invalid IPv4 address");
}

TEST(ProxyProtocolV1Test, RefusesBadPorts) {
  ExpectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
                "PROXY v1: source port \"65536\" is greater than 65535");
  ExpectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
                "destination port \"99999\" is greater than 65535");
  ExpectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 100000\r\n", "is not a decimal number 0..65535");
  ExpectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", "source port \"080\" has a leading zero");
  ExpectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "source port \"-1\" is not a decimal");
  ExpectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 +2\r\n", "destination port \"+2\" is not a decimal");
  ExpectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 http 2\r\n", "source port \"http\" is not a decimal");
}

TEST(ProxyProtocolV1Test, RefusesBadFields) {
  ExpectInvalid("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
                "PROXY v1: protocol \"TCP5\" is not TCP4, TCP6 or UNKNOWN");
  ExpectInvalid("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "protocol \"tcp4\"");
  ExpectInvalid("PROXY UNKNOWNX\r\n", "protocol \"UNKNOWNX\"");
  ExpectInvalid("PROXY \r\n", "protocol \"\"");
  ExpectInvalid("PROXY TCP4\r\n", "TCP4 needs 4 fields after it, found 0");
  ExpectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "TCP4 needs 4 fields after it, found 3");
  ExpectInvalid("PROXY TCP6 ::1 ::2 1 2 3\r\n", "TCP6 needs 4 fields after it, found 5");
  ExpectInvalid("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "empty field");
  ExpectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "empty field");
  ExpectInvalid("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "protocol \"\"");
}

TEST(ProxyProtocolV1Test, RefusesBadLineEnds) {
  ExpectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "PROXY v1: LF at offset 30 without CR");
  ExpectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rGET", "CR at offset 30 not followed by LF");
  ExpectInvalid("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", "byte 0x09 at offset 18 is not printable");
  ExpectInvalid(std::string("PROXY UNKNOWN \0\r\n", 17), "byte 0x00 at offset 14");
  ExpectInvalid("PROXY UNKNOWN \xc3\xa9\r\n", "byte 0xc3 at offset 14");
  // No CRLF within 107 bytes: refused as soon as 107 bytes are there.
  std::string long_line = "PROXY UNKNOWN " + std::string(200, 'x');
  ExpectInvalid(long_line.substr(0, kMaxProxyV1Size), "no CRLF in the first 107 bytes");
  EXPECT_EQ(ParseProxyHeader(long_line.substr(0, kMaxProxyV1Size - 1)).state,
            ProxyParse::kNeedMore);
  // The CR as byte 107 and the LF as byte 108: one byte too long.
  ExpectInvalid(long_line.substr(0, kMaxProxyV1Size - 1) + "\r\n", "no CRLF in the first 107");
  ExpectInvalid(long_line.substr(0, kMaxProxyV1Size - 1) + "\r", "no CRLF in the first 107");
}

// ---- v2 ----

TEST(ProxyProtocolV2Test, BuildsTheBytesOfTheSpecification) {
  // A header captured from HAProxy: TCP over IPv4, 172.19.0.1:42578 -> 172.19.0.3:80.
  const std::string captured(
      "\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a\x21\x11\x00\x0c"
      "\xac\x13\x00\x01\xac\x13\x00\x03\xa6\x52\x00\x50",
      28);
  ProxyHeader header = Tcp("172.19.0.1", 42578, "172.19.0.3", 80);
  EXPECT_EQ(BuildProxyV2(header), captured);
  ExpectDone(captured, header);
  EXPECT_EQ(BuildProxyV2(Local()),
            std::string(kProxyV2Signature) + std::string("\x20\x00\x00\x00", 4));
}

TEST(ProxyProtocolV2Test, Ipv4) {
  ProxyHeader header = Tcp("203.0.113.7", 51000, "10.1.2.3", 443);
  ExpectDone(BuildProxyV2(header), header);
  ExpectDone(RawV2(0x21, 0x11, std::string("\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\x00\x00", 12)),
             Tcp("255.255.255.255", 65535, "0.0.0.0", 0));
}

TEST(ProxyProtocolV2Test, Ipv6) {
  ProxyHeader header = Tcp("2001:db8::7", 51000, "2001:db8:ffff::1:2", 5000);
  std::string bytes = BuildProxyV2(header);
  EXPECT_EQ(bytes.size(), 16u + 36u);
  EXPECT_EQ(bytes[13], '\x21');
  ExpectDone(bytes, header);
  // An IPv4-mapped address stays an IPv6 address, as sent.
  ProxyHeader mapped = Tcp("::ffff:192.0.2.1", 1, "::ffff:192.0.2.2", 2);
  ExpectDone(BuildProxyV2(mapped), mapped);
}

TEST(ProxyProtocolV2Test, LocalSkipsTheBlock) {
  ExpectDone(BuildProxyV2(Local()), Local());
  // LOCAL with addresses, or anything else, in the block: discarded unread.
  ExpectDone(RawV2(0x20, 0x11, std::string(12, '\x01')), Local());
  ExpectDone(RawV2(0x20, 0x00, "\xea\xff\xff not TLVs"), Local());
  // PROXY with family or transport UNSPEC: no addresses to use, block discarded too.
  ExpectDone(RawV2(0x21, 0x00, ""), Local());
  ExpectDone(RawV2(0x21, 0x00, "\x01\x02\x03"), Local());
  ExpectDone(RawV2(0x21, 0x10, std::string(5, 'x')), Local());
  ExpectDone(RawV2(0x21, 0x01, std::string(5, 'x')), Local());
}

TEST(ProxyProtocolV2Test, NonTcpFamiliesAreLocalWithTlvs) {
  std::string tlv = Tlv(0x02, "registry.example");
  ProxyHeader expected = Local();
  expected.tlvs = {{0x02, "registry.example"}};
  ExpectDone(RawV2(0x21, 0x12, std::string(12, '\x07') + tlv), expected);  // UDP over IPv4
  ExpectDone(RawV2(0x21, 0x22, std::string(36, '\x07') + tlv), expected);  // UDP over IPv6
  ExpectDone(RawV2(0x21, 0x31, std::string(216, '/') + tlv), expected);    // UNIX stream
  ExpectDone(RawV2(0x21, 0x32, std::string(216, '/') + tlv), expected);    // UNIX datagram
}

TEST(ProxyProtocolV2Test, KeepsEveryTlv) {
  std::vector<ProxyTlv> tlvs = {
      {0x01, "h2"},                                // ALPN
      {0x02, "registry.example"},                  // AUTHORITY
      {0x03, std::string("\x12\x34\x56\x78", 4)},  // CRC32C (not verified)
      {0x04, ""},                                  // NOOP
      {0x05, std::string(128, '\xaa')},            // UNIQUE_ID
      {0x20, std::string("\x01\x00\x00\x00\x00", 5) + "\x21" + Uint16(7) + "TLSv1.3"},  // SSL
      {0x30, "blue"},                                                                   // NETNS
      {0xe0, std::string("\x00\x01", 2)},                                               // custom
      {0xf8, std::string(300, '\0')},                                                   // future
  };
  ProxyHeader header = Tcp("198.51.100.1", 1234, "192.0.2.1", 80, tlvs);
  ExpectDone(BuildProxyV2(header), header);
  ProxyHeader v6 = Tcp("2001:db8::1", 1234, "2001:db8::2", 80, tlvs);
  ExpectDone(BuildProxyV2(v6), v6);
}

TEST(ProxyProtocolV2Test, AwsVpcEndpointId) {
  ProxyHeader header =
      Tcp("10.0.0.5", 1000, "10.0.0.6", 443, {ProxyVpcTlv(kProxyTlvAws, "vpce-0123abcd")});
  EXPECT_EQ(header.tlvs[0], (ProxyTlv{0xea, "\x01vpce-0123abcd"}));
  ProxyHeader expected = header;
  expected.vpc_id = "vpce-0123abcd";
  ExpectDone(BuildProxyV2(header), expected);
}

TEST(ProxyProtocolV2Test, AlibabaVpcId) {
  ProxyHeader header = Tcp("10.0.0.5", 1000, "10.0.0.6", 443,
                           {{0x04, "pad"}, ProxyVpcTlv(kProxyTlvAlibaba, "vpc-bp1abc_2.x")});
  ProxyHeader expected = header;
  expected.vpc_id = "vpc-bp1abc_2.x";
  ExpectDone(BuildProxyV2(header), expected);
}

TEST(ProxyProtocolV2Test, CloudTlvsWithOtherSubtypesAreOnlyKept) {
  ProxyHeader header =
      Tcp("10.0.0.5", 1000, "10.0.0.6", 443,
          {{0xea, "\x02something"}, {0xe1, "\x03x"}, {0xea, ""}, {0xe2, "\x01vpc-1"}});
  ExpectDone(BuildProxyV2(header), header);  // no vpc_id
}

TEST(ProxyProtocolV2Test, VpcIdFromBothClouds) {
  ProxyHeader same =
      Tcp("10.0.0.5", 1, "10.0.0.6", 2,
          {ProxyVpcTlv(kProxyTlvAws, "vpc-1"), ProxyVpcTlv(kProxyTlvAlibaba, "vpc-1")});
  ProxyHeader expected = same;
  expected.vpc_id = "vpc-1";
  ExpectDone(BuildProxyV2(same), expected);
  ProxyHeader different =
      Tcp("10.0.0.5", 1, "10.0.0.6", 2,
          {ProxyVpcTlv(kProxyTlvAws, "vpc-1"), ProxyVpcTlv(kProxyTlvAlibaba, "vpc-2")});
  ExpectInvalid(BuildProxyV2(different),
                "PROXY v2: TLV 0xe1 at offset 37: VPC id \"vpc-2\" conflicts with \"vpc-1\"");
}

TEST(ProxyProtocolV2Test, RefusesBadVpcIds) {
  auto with = [](ProxyTlv tlv) { return BuildProxyV2(Tcp("10.0.0.5", 1, "10.0.0.6", 2, {tlv})); };
  ExpectInvalid(with({0xea, "\x01"}), "PROXY v2: TLV 0xea at offset 28: VPC id \"\" is not 1..255");
  ExpectInvalid(with(ProxyVpcTlv(kProxyTlvAlibaba, "vpc 1")), "VPC id \"vpc 1\" is not");
  ExpectInvalid(with(ProxyVpcTlv(kProxyTlvAws, "vpce/1")), "[A-Za-z0-9._-]");
  ExpectInvalid(with(ProxyVpcTlv(kProxyTlvAws, std::string("a\0b", 3))), "\"a\\x00b\"");
  ExpectInvalid(with(ProxyVpcTlv(kProxyTlvAws, std::string(256, 'a'))), "is not 1..255");
  EXPECT_EQ(ParseProxyHeader(with(ProxyVpcTlv(kProxyTlvAws, std::string(255, 'a')))).header.vpc_id,
            std::string(255, 'a'));
}

TEST(ProxyProtocolV2Test, IncrementalFeeding) {
  ExpectIncremental(BuildProxyV2(Tcp("192.0.2.1", 1, "192.0.2.2", 2)));
  ExpectIncremental(BuildProxyV2(Tcp("2001:db8::1", 1, "2001:db8::2", 2,
                                     {{0x01, "h2"}, ProxyVpcTlv(kProxyTlvAws, "vpce-1")})));
  ExpectIncremental(BuildProxyV2(Local()));
  ExpectIncremental(RawV2(0x20, 0x00, "skipped"));
}

TEST(ProxyProtocolV2Test, LengthBounds) {
  // Exactly 4096 bytes in total is accepted.
  std::string value(kMaxProxyV2Size - 16 - 12 - 3, 'v');
  ProxyHeader largest = Tcp("192.0.2.1", 1, "192.0.2.2", 2, {{0x04, value}});
  std::string bytes = BuildProxyV2(largest);
  ASSERT_EQ(bytes.size(), kMaxProxyV2Size);
  ExpectDone(bytes, largest);
  // One more is refused as soon as the length is readable.
  value += 'v';
  bytes = BuildProxyV2(Tcp("192.0.2.1", 1, "192.0.2.2", 2, {{0x04, value}}));
  ExpectInvalid(bytes.substr(0, 16), "PROXY v2: header of 4097 bytes is longer than 4096");
  ExpectInvalid(RawV2(0x20, 0x00, "").substr(0, 14) + "\xff\xff",
                "header of 65551 bytes is longer than 4096");
  // The address block must fit the family's addresses; known at byte 16.
  ExpectInvalid(RawV2(0x21, 0x11, std::string(11, '\0')).substr(0, 16),
                "PROXY v2: address length 11 is shorter than the 12 bytes of family 0x01");
  ExpectInvalid(RawV2(0x21, 0x21, std::string(35, '\0')),
                "address length 35 is shorter than the 36");
  ExpectInvalid(RawV2(0x21, 0x12, ""), "address length 0 is shorter than the 12");
  ExpectInvalid(RawV2(0x21, 0x31, std::string(215, '\0')), "shorter than the 216");
}

TEST(ProxyProtocolV2Test, RefusesBadTlvs) {
  std::string addresses(12, '\x01');
  ExpectInvalid(RawV2(0x21, 0x11, addresses + std::string("\x04\x00", 2)),
                "PROXY v2: TLV at offset 28: 2 bytes left, a TLV needs at least 3");
  ExpectInvalid(RawV2(0x21, 0x11, addresses + Tlv(0x01, "h2") + "\x04"),
                "TLV at offset 33: 1 bytes left");
  ExpectInvalid(
      RawV2(0x21, 0x11,
            addresses + std::string("\x02\x00\x05"
                                    "abcd",
                                    7)),
      "PROXY v2: TLV 0x02 at offset 28 declares 5 value bytes, only 4 left in the header");
  ExpectInvalid(RawV2(0x21, 0x11, addresses + std::string("\xea\xff\xff", 3)),
                "TLV 0xea at offset 28 declares 65535 value bytes, only 0 left");
  // A TLV's length must stay within the header even if more bytes follow on the wire.
  std::string overrun = RawV2(0x21, 0x11,
                              addresses + std::string("\x02\x00\x05"
                                                      "ab",
                                                      5));
  ExpectInvalid(overrun + "cdefgh", "declares 5 value bytes, only 2 left");
  // Same checks for the non-TCP families whose TLVs are parsed.
  ExpectInvalid(RawV2(0x21, 0x32, std::string(216, '\0') + "\x01"), "1 bytes left");
}

TEST(ProxyProtocolV2Test, RefusesBadVersionCommandFamily) {
  std::string sig(kProxyV2Signature);
  ExpectInvalid(sig + "\x11", "PROXY v2: version 1, expected 2");
  ExpectInvalid(sig + "\x31", "version 3, expected 2");
  ExpectInvalid(sig + std::string("\x00", 1), "version 0, expected 2");
  ExpectInvalid(sig + "\x22", "PROXY v2: command 0x02 is neither LOCAL (0x00) nor PROXY (0x01)");
  ExpectInvalid(sig + "\x2f", "command 0x0f");
  ExpectInvalid(sig + "\x21\x41",
                "PROXY v2: address family 0x04 is not UNSPEC, INET, INET6 or UNIX");
  ExpectInvalid(sig + "\x20\xf0", "address family 0x0f");
  ExpectInvalid(sig + "\x21\x13", "PROXY v2: transport 0x03 is not UNSPEC, STREAM or DGRAM");
  ExpectInvalid(sig + "\x20\x0f", "transport 0x0f");
}

// ---- both ----

TEST(ProxyProtocolTest, RefusesOtherProtocolsAtOnce) {
  ExpectInvalid("G", "not a PROXY protocol header (starts with \"G\")");
  ExpectInvalid("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "starts with \"GET / HTTP/1.1\\x0d\\x0a\")");
  ExpectInvalid("\x16\x03\x01\x02", "starts with \"\\x16\\x03\\x01\\x02\"");  // TLS
  ExpectInvalid("PROXX", "not a PROXY protocol header");
  ExpectInvalid("PROXYTCP4", "not a PROXY protocol header");
  ExpectInvalid("proxy TCP4", "not a PROXY protocol header");
  ExpectInvalid("\r\n\r\n\x01", "not a PROXY protocol header");
  ExpectInvalid("\r\n\r\r", "not a PROXY protocol header");
  ExpectInvalid(std::string("\r\n\r\n\0\r\nQUIT\r", 12), "not a PROXY protocol header");
  ExpectInvalid(std::string(1, '\0'), "starts with \"\\x00\"");
}

TEST(ProxyProtocolTest, WaitsOnPrefixes) {
  for (std::string_view prefix :
       {std::string_view(""), std::string_view("P"), std::string_view("PROX"),
        std::string_view("\r"), std::string_view("\r\n\r\n\0\r\nQUI", 10)}) {
    ProxyParseResult result = ParseProxyHeader(prefix);
    EXPECT_EQ(result.state, ProxyParse::kNeedMore) << result.error;
    EXPECT_EQ(result.consumed, 0u);
    EXPECT_EQ(result.error, "");
  }
  // "PROXY" alone may still become "PROXY "; "PROXYX" is refused (above).
  EXPECT_EQ(ParseProxyHeader("PROXY").state, ProxyParse::kNeedMore);
  EXPECT_EQ(ParseProxyHeader("PROXY ").state, ProxyParse::kNeedMore);
}

// Every prefix of a refused input is either still plausible or refused, and once refused stays
// refused: the server can drop the connection at the first kInvalid.
TEST(ProxyProtocolTest, RefusalIsFinal) {
  std::vector<std::string> inputs = {
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
      "GET / HTTP/1.1\r\n",
      RawV2(0x21, 0x11,
            std::string(12, '\0') + "\x01\x00\x09"
                                    "ab"),
      RawV2(0x31, 0x11, std::string(12, '\0')),
  };
  for (const std::string& input : inputs) {
    bool refused = false;
    for (size_t n = 0; n <= input.size(); ++n) {
      ProxyParse state = ParseProxyHeader(std::string_view(input).substr(0, n)).state;
      EXPECT_NE(state, ProxyParse::kDone) << n;
      if (refused) {
        EXPECT_EQ(state, ProxyParse::kInvalid) << n;
      }
      refused = state == ProxyParse::kInvalid;
    }
    EXPECT_TRUE(refused) << input;
  }
}

TEST(ProxyProtocolTest, V1BuilderRoundTrips) {
  for (const ProxyHeader& header :
       {Tcp("192.0.2.1", 0, "198.51.100.255", 65535), Tcp("2001:db8::1", 443, "::", 80),
        Tcp("::ffff:192.0.2.1", 1, "fe80::1", 2), Local()}) {
    std::string line = BuildProxyV1(header);
    EXPECT_LE(line.size(), kMaxProxyV1Size);
    ExpectDone(line, header);
  }
  EXPECT_EQ(BuildProxyV1(Tcp("192.0.2.1", 56324, "192.0.2.11", 443)),
            "PROXY TCP4 192.0.2.1 192.0.2.11 56324 443\r\n");
  EXPECT_EQ(BuildProxyV1(Local()), "PROXY UNKNOWN\r\n");
}

}  // namespace
}  // namespace kura::server
