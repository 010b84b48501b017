#include "access/allowlist.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace kura::access {
namespace {

using core::Cidr;
using core::IpAddress;
using core::IpFamily;
using core::Uint128;

IpAddress Ip(std::string_view text) {
  return *IpAddress::Parse(text);
}
AllowlistEntry Entry(std::string_view cidr, std::string description = "") {
  return {*Cidr::Parse(cidr), std::move(description)};
}

// The description of the entry that admits address, or "none".
std::string Describe(const Allowlist& list, std::string_view address) {
  const AllowlistEntry* entry = list.Find(Ip(address));
  return entry ? entry->description : "none";
}

// The reference: the longest prefix that contains address, the earliest among equals.
const AllowlistEntry* LinearFind(const std::vector<AllowlistEntry>& entries,
                                 const IpAddress& address) {
  const AllowlistEntry* best = nullptr;
  for (const AllowlistEntry& entry : entries) {
    if (entry.cidr.Contains(address) &&
        (best == nullptr || entry.cidr.length() > best->cidr.length())) {
      best = &entry;
    }
  }
  return best;
}

TEST(Allowlist, EmptyAdmitsNobody) {
  Allowlist list;
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.Find(Ip("1.2.3.4")), nullptr);
  EXPECT_EQ(Allowlist(std::vector<AllowlistEntry>{}).Find(Ip("::1")), nullptr);
}

TEST(Allowlist, TheMostSpecificEntryAnswers) {
  Allowlist list({Entry("10.1.2.3/32", "host"), Entry("10.1.0.0/16", "mid"),
                  Entry("10.1.0.0/24", "start"), Entry("10.1.255.0/24", "end"),
                  Entry("10.0.0.0/8", "wide")});
  auto description = [&](std::string_view address) { return Describe(list, address); };
  EXPECT_EQ(description("9.255.255.255"), "none");
  EXPECT_EQ(description("10.0.0.0"), "wide");
  EXPECT_EQ(description("10.1.0.0"), "start");
  EXPECT_EQ(description("10.1.0.255"), "start");
  EXPECT_EQ(description("10.1.1.0"), "mid");
  EXPECT_EQ(description("10.1.2.2"), "mid");
  EXPECT_EQ(description("10.1.2.3"), "host");
  EXPECT_EQ(description("10.1.2.4"), "mid");
  EXPECT_EQ(description("10.1.255.255"), "end");
  EXPECT_EQ(description("10.2.0.0"), "wide");
  EXPECT_EQ(description("10.255.255.255"), "wide");
  EXPECT_EQ(description("11.0.0.0"), "none");
}

TEST(Allowlist, WholeSpacesAndTheirEdges) {
  Allowlist list({Entry("0.0.0.0/0", "all v4"), Entry("255.255.255.255/32", "top"),
                  Entry("::/0", "all v6"), Entry("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")});
  EXPECT_EQ(Describe(list, "0.0.0.0"), "all v4");
  EXPECT_EQ(Describe(list, "255.255.255.254"), "all v4");
  EXPECT_EQ(Describe(list, "255.255.255.255"), "top");
  EXPECT_EQ(Describe(list, "::"), "all v6");
  EXPECT_EQ(Describe(list, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), "all v6");
  EXPECT_EQ(Describe(list, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "");
}

TEST(Allowlist, FamiliesAreSeparate) {
  Allowlist v4_only({Entry("0.0.0.0/0")});
  EXPECT_EQ(v4_only.Find(Ip("2001:db8::1")), nullptr);
  Allowlist v6_only({Entry("::/0")});
  EXPECT_EQ(v6_only.Find(Ip("1.2.3.4")), nullptr);
}

TEST(Allowlist, Ipv4MappedAddressesAndEntriesCountAsIpv4) {
  Allowlist list({Entry("198.51.100.10/32", "v4"), Entry("::ffff:203.0.113.0/120", "mapped")});
  EXPECT_EQ(Describe(list, "::ffff:198.51.100.10"), "v4");
  EXPECT_EQ(Describe(list, "203.0.113.20"), "mapped");
  EXPECT_EQ(Describe(list, "::ffff:203.0.113.20"), "mapped");
  EXPECT_EQ(Describe(list, "203.0.114.1"), "none");
}

TEST(Allowlist, DuplicatesKeepTheFirstEntry) {
  Allowlist list({Entry("10.0.0.0/8", "first"), Entry("10.0.0.0/8", "second")});
  EXPECT_EQ(Describe(list, "10.9.9.9"), "first");
  EXPECT_EQ(list.size(), 2u);
}

TEST(Allowlist, CopiesShareTheIndex) {
  Allowlist list({Entry("10.0.0.0/8")});
  Allowlist copy = list;
  EXPECT_EQ(copy.Find(Ip("10.0.0.1")), list.Find(Ip("10.0.0.1")));
}

// An address near the entries (inside one, or just past one) half of the time, anywhere else the
// other half, so that both hits and misses are common.
IpAddress RandomAddress(std::mt19937_64& random, const std::vector<AllowlistEntry>& entries,
                        IpFamily family) {
  Uint128 value{random(), random()};
  if (random() % 2 == 0) {
    const Cidr& cidr = entries[random() % entries.size()].cidr;
    if (cidr.family() == family) {
      switch (random() % 4) {
        case 0:
          value = cidr.network().value();
          break;
        case 1:
          value = cidr.last().value();
          break;
        case 2:
          value = cidr.last().value().Next();
          break;
        default:
          value = cidr.network().value().Previous();
          break;
      }
    }
  }
  return IpAddress::FromValue(family, value);
}

std::vector<AllowlistEntry> RandomEntries(std::mt19937_64& random, size_t count) {
  std::vector<AllowlistEntry> entries;
  for (size_t i = 0; i < count; ++i) {
    bool v4 = random() % 4 != 0;
    Uint128 value{random(), random()};
    IpAddress address = v4 ? IpAddress::V4(static_cast<uint32_t>(value.low)) : IpAddress::V6(value);
    // Mostly long prefixes (hosts, small networks) with some wide ones so that entries nest. For
    // IPv6 the first 8 bits are fixed to 0x20 now and then so that wide and narrow ones meet.
    int length = v4 ? static_cast<int>(8 + random() % 25) : static_cast<int>(8 + random() % 121);
    if (!v4 && random() % 2 == 0) {
      value.high = (value.high & 0x00ffffffffffffffULL) | 0x2000000000000000ULL;
      address = IpAddress::V6(value);
    }
    entries.push_back({*Cidr::Enclosing(address, length), "entry " + std::to_string(i)});
  }
  return entries;
}

TEST(Allowlist, TenThousandEntriesAgreeWithALinearScan) {
  std::mt19937_64 random(20221210);
  // Narrow the IPv4 space so that entries overlap: 10.0.0.0/8 only.
  std::vector<AllowlistEntry> entries = RandomEntries(random, 10000);
  for (AllowlistEntry& entry : entries) {
    if (entry.cidr.family() == IpFamily::kV4) {
      uint32_t value = static_cast<uint32_t>(entry.cidr.network().value().low);
      IpAddress address = IpAddress::V4((value & 0x00ffffff) | 0x0a000000);
      entry.cidr = *Cidr::Enclosing(address, entry.cidr.length());
    }
  }
  Allowlist list(entries);
  ASSERT_EQ(list.size(), 10000u);

  int hits = 0;
  for (int i = 0; i < 20000; ++i) {
    IpFamily family = i % 3 == 0 ? IpFamily::kV6 : IpFamily::kV4;
    IpAddress address = RandomAddress(random, entries, family);
    if (family == IpFamily::kV4 && i % 2 == 0) {
      address =
          IpAddress::V4((static_cast<uint32_t>(address.value().low) & 0x00ffffff) | 0x0a000000);
    }
    const AllowlistEntry* expected = LinearFind(entries, address);
    const AllowlistEntry* found = list.Find(address);
    ASSERT_EQ(found == nullptr, expected == nullptr) << address.ToString();
    if (expected != nullptr) {
      ++hits;
      ASSERT_EQ(found->cidr, expected->cidr) << address.ToString();
    }
  }
  // The sample exercises both outcomes.
  EXPECT_GT(hits, 2000);
  EXPECT_LT(hits, 18000);
}

}  // namespace
}  // namespace kura::access
