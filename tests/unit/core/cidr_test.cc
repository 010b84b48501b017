#include "core/cidr.h"

#include <gtest/gtest.h>

#include <string>

namespace kura::core {
namespace {

std::string ParseError(std::string_view text) {
  std::string error;
  EXPECT_FALSE(Cidr::Parse(text, &error).has_value()) << text;
  return error;
}

std::string AddressError(std::string_view text) {
  std::string error;
  EXPECT_FALSE(IpAddress::Parse(text, &error).has_value()) << text;
  return error;
}

std::string Canonical(std::string_view text) {
  std::optional<IpAddress> address = IpAddress::Parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address ? address->ToString() : "";
}

TEST(IpAddress, ParsesIpv4) {
  std::optional<IpAddress> address = IpAddress::Parse("192.168.0.1");
  ASSERT_TRUE(address.has_value());
  EXPECT_TRUE(address->is_v4());
  EXPECT_EQ(address->value(), (Uint128{0, 0xc0a80001}));
  EXPECT_EQ(address->ToString(), "192.168.0.1");
  EXPECT_EQ(Canonical("0.0.0.0"), "0.0.0.0");
  EXPECT_EQ(Canonical("255.255.255.255"), "255.255.255.255");
}

TEST(IpAddress, RefusesBadIpv4) {
  EXPECT_EQ(AddressError("300.1.1.1"),
            "invalid IPv4 address \"300.1.1.1\": octet 300 is greater "
            "than 255");
  EXPECT_EQ(AddressError("1.2.3"), "invalid IPv4 address \"1.2.3\": expected four octets, found 3");
  EXPECT_EQ(AddressError("1.2.3.4.5"), "invalid IPv4 address \"1.2.3.4.5\": more than four octets");
  EXPECT_EQ(AddressError("01.2.3.4"),
            "invalid IPv4 address \"01.2.3.4\": octet 01 has a leading "
            "zero");
  EXPECT_EQ(AddressError("1..3.4"), "invalid IPv4 address \"1..3.4\": empty octet");
  EXPECT_EQ(AddressError("1.2.3.4."), "invalid IPv4 address \"1.2.3.4.\": empty octet");
  EXPECT_EQ(AddressError(" 1.2.3.4"),
            "invalid IPv4 address \" 1.2.3.4\": ' ' is not a decimal "
            "digit");
  EXPECT_EQ(AddressError(""), "invalid IPv4 address \"\": empty");
  for (const char* bad : {"1.2.3.-4", "1.2.3.4444", "a.b.c.d", "1.2.3.4/", "0x1.2.3.4"}) {
    AddressError(bad);
  }
}

TEST(IpAddress, ParsesAndFormatsIpv6) {
  EXPECT_EQ(Canonical("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  EXPECT_EQ(Canonical("2001:db8::1"), "2001:db8::1");
  EXPECT_EQ(Canonical("::"), "::");
  EXPECT_EQ(Canonical("::1"), "::1");
  EXPECT_EQ(Canonical("1::"), "1::");
  EXPECT_EQ(Canonical("2001:0db8:0000:0000:0001:0000:0000:0001"), "2001:db8::1:0:0:1");
  EXPECT_EQ(Canonical("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");  // one zero: no "::"
  EXPECT_EQ(Canonical("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");           // the longest run
  EXPECT_EQ(Canonical("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4");               // the first of equals
  EXPECT_EQ(Canonical("1:2:3:4:5:6:7::"), "1:2:3:4:5:6:7:0");
  EXPECT_EQ(Canonical("::ffff:198.51.100.10"), "::ffff:198.51.100.10");
  EXPECT_EQ(Canonical("::FFFF:c633:640a"), "::ffff:198.51.100.10");
  EXPECT_EQ(Canonical("64:ff9b::192.0.2.33"), "64:ff9b::c000:221");
  EXPECT_EQ(Canonical("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  EXPECT_EQ(IpAddress::Parse("::1")->value(), (Uint128{0, 1}));
  EXPECT_EQ(IpAddress::Parse("8000::")->value(), (Uint128{0x8000000000000000ULL, 0}));
}

TEST(IpAddress, RefusesBadIpv6) {
  EXPECT_EQ(AddressError("fe80::1%eth0"),
            "invalid IPv6 address \"fe80::1%eth0\": zone identifiers are not accepted");
  EXPECT_EQ(AddressError("1::2::3"),
            "invalid IPv6 address \"1::2::3\": \"::\" appears more than "
            "once");
  EXPECT_EQ(AddressError("1:2:3:4:5:6:7"),
            "invalid IPv6 address \"1:2:3:4:5:6:7\": expected eight groups or \"::\", found 7 "
            "groups");
  EXPECT_EQ(AddressError("12345::"),
            "invalid IPv6 address \"12345::\": group 12345 has more than "
            "four hex digits");
  EXPECT_EQ(AddressError("g::"), "invalid IPv6 address \"g::\": 'g' is not a hex digit");
  EXPECT_EQ(AddressError("1:2:3:4:5:6:7:8:9"),
            "invalid IPv6 address \"1:2:3:4:5:6:7:8:9\": more than eight groups");
  EXPECT_EQ(AddressError("1:2:3:4::5:6:7:8"),
            "invalid IPv6 address \"1:2:3:4::5:6:7:8\": \"::\" stands for no group: there are "
            "already eight");
  for (const char* bad :
       {":", ":::", ":1::", "1::2:", "1:2:3:4:5:6:7:", ":1:2:3:4:5:6:7:8", "1.2.3.4::", "::1.2.3",
        "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4", "::ffff:300.1.1.1"}) {
    AddressError(bad);
  }
}

TEST(IpAddress, V4Mapped) {
  IpAddress mapped = *IpAddress::Parse("::ffff:10.0.0.1");
  EXPECT_TRUE(mapped.IsV4Mapped());
  EXPECT_EQ(mapped.Unmapped(), *IpAddress::Parse("10.0.0.1"));
  IpAddress v6 = *IpAddress::Parse("2001:db8::1");
  EXPECT_FALSE(v6.IsV4Mapped());
  EXPECT_EQ(v6.Unmapped(), v6);
  EXPECT_LT(*IpAddress::Parse("255.255.255.255"), *IpAddress::Parse("::"));  // IPv4 first
}

TEST(Cidr, Parses) {
  std::optional<Cidr> cidr = Cidr::Parse("192.168.0.0/16");
  ASSERT_TRUE(cidr.has_value());
  EXPECT_EQ(cidr->length(), 16);
  EXPECT_EQ(cidr->network(), *IpAddress::Parse("192.168.0.0"));
  EXPECT_EQ(cidr->last(), *IpAddress::Parse("192.168.255.255"));
  EXPECT_EQ(cidr->ToString(), "192.168.0.0/16");
  EXPECT_EQ(Cidr::Parse("0.0.0.0/0")->last().ToString(), "255.255.255.255");
  EXPECT_EQ(Cidr::Parse("198.51.100.10")->ToString(), "198.51.100.10/32");
  EXPECT_EQ(Cidr::Parse("2001:DB8::/32")->ToString(), "2001:db8::/32");
  EXPECT_EQ(Cidr::Parse("2001:db8::/32")->last().ToString(),
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
  EXPECT_EQ(Cidr::Parse("::1")->ToString(), "::1/128");
  EXPECT_EQ(Cidr::Parse("::/0")->last().ToString(), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  EXPECT_EQ(Cidr::Parse("2001:db8:0:0:8000::/65")->ToString(), "2001:db8:0:0:8000::/65");
  EXPECT_EQ(Cidr::Parse("10.0.0.0/8")->length(), 8);
}

TEST(Cidr, RefusesBadInputWithAClearError) {
  EXPECT_EQ(ParseError("10.0.0.0/33"),
            "invalid CIDR \"10.0.0.0/33\": prefix length 33 is greater than 32");
  EXPECT_EQ(ParseError("300.1.1.1"), "invalid CIDR \"300.1.1.1\": octet 300 is greater than 255");
  EXPECT_EQ(ParseError("300.1.1.1/8"),
            "invalid CIDR \"300.1.1.1/8\": octet 300 is greater than 255");
  EXPECT_EQ(ParseError("1.2.3.4/24"),
            "invalid CIDR \"1.2.3.4/24\": host bits are set; the network is 1.2.3.0/24");
  EXPECT_EQ(ParseError("2001:db8::1/32"),
            "invalid CIDR \"2001:db8::1/32\": host bits are set; the network is 2001:db8::/32");
  EXPECT_EQ(ParseError("::/129"), "invalid CIDR \"::/129\": prefix length 129 is greater than 128");
  EXPECT_EQ(ParseError("10.0.0.0/"),
            "invalid CIDR \"10.0.0.0/\": prefix length is missing after "
            "'/'");
  EXPECT_EQ(ParseError("10.0.0.0/08"),
            "invalid CIDR \"10.0.0.0/08\": prefix length 08 has a leading zero");
  EXPECT_EQ(ParseError("10.0.0.0/-1"),
            "invalid CIDR \"10.0.0.0/-1\": prefix length \"-1\" is not a decimal number");
  EXPECT_EQ(ParseError("10.0.0.0/8/8"),
            "invalid CIDR \"10.0.0.0/8/8\": prefix length \"8/8\" is not a decimal number");
  EXPECT_EQ(ParseError("/8"), "invalid CIDR \"/8\": empty");
  EXPECT_EQ(ParseError(""), "invalid CIDR \"\": empty");
  ParseError("10.0.0.0/ 8");
  ParseError("10.0.0.0/1000");
}

TEST(Cidr, Contains) {
  Cidr vpc_a = *Cidr::Parse("192.168.0.0/16");
  Cidr vsw_a = *Cidr::Parse("192.168.0.0/24");
  EXPECT_TRUE(vpc_a.Contains(*IpAddress::Parse("192.168.0.1")));
  EXPECT_TRUE(vpc_a.Contains(*IpAddress::Parse("192.168.255.255")));
  EXPECT_FALSE(vpc_a.Contains(*IpAddress::Parse("192.169.0.0")));
  EXPECT_FALSE(vpc_a.Contains(*IpAddress::Parse("::ffff:192.168.0.1")));  // other family
  EXPECT_TRUE(vpc_a.Contains(vsw_a));
  EXPECT_FALSE(vsw_a.Contains(vpc_a));
  EXPECT_TRUE(vpc_a.Overlaps(vsw_a));
  EXPECT_TRUE(vsw_a.Overlaps(vpc_a));
  EXPECT_FALSE(vsw_a.Overlaps(*Cidr::Parse("192.168.1.0/24")));
  EXPECT_FALSE(Cidr::Parse("0.0.0.0/0")->Contains(*IpAddress::Parse("::1")));
  EXPECT_TRUE(Cidr::Parse("::/0")->Contains(*IpAddress::Parse("::ffff:1.2.3.4")));
  EXPECT_TRUE(Cidr::Parse("10.0.0.1")->Contains(*IpAddress::Parse("10.0.0.1")));
  EXPECT_FALSE(Cidr::Parse("10.0.0.1")->Contains(*IpAddress::Parse("10.0.0.2")));
}

TEST(Cidr, Enclosing) {
  IpAddress address = *IpAddress::Parse("1.2.3.4");
  EXPECT_EQ(Cidr::Enclosing(address, 24)->ToString(), "1.2.3.0/24");
  EXPECT_EQ(Cidr::Enclosing(address, 0)->ToString(), "0.0.0.0/0");
  EXPECT_EQ(Cidr::Enclosing(address, 32)->ToString(), "1.2.3.4/32");
  EXPECT_FALSE(Cidr::Enclosing(address, 33).has_value());
  EXPECT_FALSE(Cidr::Enclosing(address, -1).has_value());
  IpAddress v6 = *IpAddress::Parse("2001:db8:1:2:3:4:5:6");
  EXPECT_EQ(Cidr::Enclosing(v6, 64)->ToString(), "2001:db8:1:2::/64");
  EXPECT_EQ(Cidr::Enclosing(v6, 63)->ToString(), "2001:db8:1:2::/63");
  EXPECT_EQ(Cidr::Enclosing(v6, 65)->ToString(), "2001:db8:1:2::/65");
  EXPECT_EQ(Cidr::Enclosing(v6, 128)->ToString(), "2001:db8:1:2:3:4:5:6/128");
  EXPECT_EQ(Cidr::Host(v6).length(), 128);
}

TEST(Uint128, NextAndPreviousCarry) {
  EXPECT_EQ((Uint128{0, ~uint64_t{0}}.Next()), (Uint128{1, 0}));
  EXPECT_EQ((Uint128{1, 0}.Previous()), (Uint128{0, ~uint64_t{0}}));
  EXPECT_EQ((Uint128{~uint64_t{0}, ~uint64_t{0}}.Next()), (Uint128{0, 0}));
  EXPECT_LT((Uint128{0, ~uint64_t{0}}), (Uint128{1, 0}));
}

}  // namespace
}  // namespace kura::core
