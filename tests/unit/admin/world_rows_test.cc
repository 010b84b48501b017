// The World as rows (admin/world_rows.h): a change writes the rows it changed and no other, the
// rows restore the World they came from, and a node replaying another's rows ends with the same
// World as that node.
#include "admin/world_rows.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "admin/world_document.h"
#include "nlohmann/json.hpp"

namespace kura::admin {
namespace {

using store::WorldRow;

core::Cidr C(const char* text) {
  return *core::Cidr::Parse(text);
}

// Two accounts, two regions, a network with two subnets in each account, a host.
access::World Cloud() {
  access::World w("kura.test");
  EXPECT_TRUE(w.AddAccount({"A", "account A"}).ok());
  EXPECT_TRUE(w.AddAccount({"B", "account B"}).ok());
  EXPECT_TRUE(w.AddRegion({"r1", "Tokyo"}).ok());
  EXPECT_TRUE(w.AddRegion({"r2", "Osaka"}).ok());
  EXPECT_TRUE(w.AddNetwork({"vpc", "A", "r1", {C("10.0.0.0/16")}}).ok());
  EXPECT_TRUE(w.AddNetwork({"vpc", "B", "r1", {C("10.1.0.0/16")}}).ok());
  EXPECT_TRUE(w.AddSubnet({"a1", {"A", "vpc"}, C("10.0.1.0/29")}).ok());
  EXPECT_TRUE(w.AddSubnet({"a2", {"A", "vpc"}, C("10.0.2.0/24")}).ok());
  EXPECT_TRUE(w.AddSubnet({"b1", {"B", "vpc"}, C("10.1.1.0/24")}).ok());
  EXPECT_TRUE(w.AddHost({"ecs", "a1", *core::IpAddress::Parse("10.0.1.1"), std::nullopt}).ok());
  return w;
}

TEST(WorldRowsTest, EachThingIsItsOwnRow) {
  access::World w = Cloud();
  ASSERT_TRUE(w.CreateInstance("acme", "A", "r1", access::Edition::kEnterprise, "inc-1").ok());
  ASSERT_TRUE(w.AllowCidr("acme", {C("203.0.113.0/24"), "office"}).ok());
  ASSERT_TRUE(w.AllowCidr("acme", {C("198.51.100.7/32"), "ci"}).ok());
  ASSERT_TRUE(w.Bind("acme", {"A", "vpc"}, "a1").ok());
  std::vector<std::string> keys;
  for (const WorldRow& row : WorldToRows(w)) keys.push_back(row.kind + "|" + row.key);
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "account|A", "account|B", "allow|acme 198.51.100.7/32",
                      "allow|acme 203.0.113.0/24", "binding|acme vpc", "host|ecs", "instance|acme",
                      "network|A/vpc", "network|B/vpc", "region|r1", "region|r2", "subnet|a1",
                      "subnet|a2", "subnet|b1", "zone|acme-registry-vpc.r1.kura.test@vpc"}));
}

TEST(WorldRowsTest, AChangeWritesJustTheRowsItChanged) {
  access::World before = Cloud();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(before
                    .CreateInstance("i" + std::to_string(i), "A", "r1",
                                    access::Edition::kEnterprise, "inc-" + std::to_string(i))
                    .ok());
  }
  access::World after = before;
  ASSERT_TRUE(after.AllowCidr("i500", {C("192.0.2.0/24"), "lab"}).ok());
  std::vector<WorldRow> rows = WorldRowChanges(before, after);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, "allow");
  EXPECT_EQ(rows[0].key, "i500 192.0.2.0/24");
  ASSERT_TRUE(rows[0].body);

  access::World gone = after;
  ASSERT_TRUE(gone.DeleteInstance("i500").ok());
  rows = WorldRowChanges(after, gone);
  ASSERT_EQ(rows.size(), 2u);  // the instance and its allowlist entry, both removed
  EXPECT_EQ(rows[0].kind, "allow");
  EXPECT_FALSE(rows[0].body);
  EXPECT_EQ(rows[1].kind, "instance");
  EXPECT_FALSE(rows[1].body);

  // An operation that leaves the World as it was (a no-op) writes nothing.
  access::World same = before;
  ASSERT_TRUE(same.SetInternetEnabled("i1", false).ok());
  EXPECT_TRUE(WorldRowChanges(before, same).empty());
}

TEST(WorldRowsTest, RemovingAnEntryKeepsTheOrderOfTheRest) {
  access::World w = Cloud();
  ASSERT_TRUE(w.CreateInstance("acme", "A", "r1", access::Edition::kEnterprise, "inc-1").ok());
  for (const char* c : {"10.9.0.0/16", "10.8.0.0/16", "10.7.0.0/16"}) {
    ASSERT_TRUE(w.AllowCidr("acme", {C(c), c}).ok());
  }
  access::World removed = w;
  ASSERT_TRUE(removed.RevokeCidr("acme", C("10.9.0.0/16")).ok());
  access::World restored = WorldFromRows(WorldToRows(removed), "kura.test");
  const auto& entries = restored.FindInstance("acme")->internet.allowlist.entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].cidr, C("10.8.0.0/16"));
  EXPECT_EQ(entries[1].cidr, C("10.7.0.0/16"));
  access::World replica = w;
  ASSERT_TRUE(ApplyWorldRowChanges(replica, WorldRowChanges(w, removed)));
  EXPECT_EQ(WorldToRows(replica), WorldToRows(removed));
}

// Start-up reads allowlist rows with a reader of its own (nlohmann::json for anything else): it
// must read every description exactly as written, whatever characters it holds, and leave a body
// it does not take (spaces, another key order) to nlohmann, which reads it the same.
TEST(WorldRowsTest, EveryDescriptionReadsBackAsWritten) {
  std::mt19937 rng(7);
  access::World w = Cloud();
  ASSERT_TRUE(w.CreateInstance("acme", "A", "r1", access::Edition::kEnterprise, "inc-1").ok());
  std::vector<std::string> descriptions = {"", "\"quoted\" \\ back", "tab\tnew\nline\x01\x1f",
                                           "caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80",
                                           "/slash/"};
  for (int k = 0; k < 200; ++k) {
    std::string d;
    for (int c = 0; c < 12; ++c) {
      uint32_t cp = rng() % 4 == 0 ? rng() % 0x20 : 0x20 + rng() % 0x2ff00;
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 'x';
      // UTF-8 by hand.
      if (cp < 0x80) {
        d += static_cast<char>(cp);
      } else if (cp < 0x800) {
        d += static_cast<char>(0xc0 | (cp >> 6));
        d += static_cast<char>(0x80 | (cp & 0x3f));
      } else if (cp < 0x10000) {
        d += static_cast<char>(0xe0 | (cp >> 12));
        d += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        d += static_cast<char>(0x80 | (cp & 0x3f));
      } else {
        d += static_cast<char>(0xf0 | (cp >> 18));
        d += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        d += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        d += static_cast<char>(0x80 | (cp & 0x3f));
      }
    }
    descriptions.push_back(d);
  }
  std::vector<access::AllowlistEntry> entries;
  for (size_t k = 0; k < descriptions.size(); ++k) {
    const std::string cidr =
        "10.2." + std::to_string(k / 250) + "." + std::to_string(k % 250) + "/32";
    entries.push_back({C(cidr.c_str()), descriptions[k]});
  }
  ASSERT_TRUE(w.ReplaceAllowlist("acme", entries).ok());
  access::World restored = WorldFromRows(WorldToRows(w), "kura.test");
  EXPECT_EQ(restored.FindInstance("acme")->internet.allowlist.entries(), entries);

  // Bodies written otherwise (by hand, or a later kura): the same entry.
  std::vector<WorldRow> rows = WorldToRows(Cloud());
  rows.push_back(
      {"instance", "beta",
       R"({"account":"A","region":"r1","edition":"enterprise","incarnation":"inc-b","internet_enabled":true})"});
  rows.push_back(
      {"allow", "beta 192.0.2.0/24",
       R"({ "position": 1, "description": "caf\u00e9 \ud83d\ude00", "cidr": "192.0.2.0/24" })"});
  rows.push_back({"allow", "beta 192.0.3.0/24",
                  R"({"cidr":"192.0.3.0/24","description":"first","position":0})"});
  access::World by_hand = WorldFromRows(rows, "kura.test");
  const auto& got = by_hand.FindInstance("beta")->internet.allowlist.entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].description, "first");
  EXPECT_EQ(got[1].description, "caf\xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_TRUE(by_hand.FindInstance("beta")->internet.enabled);
  // A lone surrogate or a bad escape is refused, by whichever reader sees it.
  rows.back().body = R"({"cidr":"192.0.3.0/24","description":"\ud800","position":0})";
  EXPECT_THROW(WorldFromRows(rows, "kura.test"), DocumentError);
  rows.back().body = R"({"cidr":"192.0.3.0/24","description":"\q","position":0})";
  EXPECT_THROW(WorldFromRows(rows, "kura.test"), DocumentError);
}

TEST(WorldRowsTest, RowsThatBreakTheRulesAreRefused) {
  access::World w = Cloud();
  ASSERT_TRUE(w.CreateInstance("acme", "A", "r1", access::Edition::kEnterprise, "inc-1").ok());
  std::vector<WorldRow> rows = WorldToRows(w);
  // A binding of account B's network to account A's instance, written into the database.
  rows.push_back(
      {"binding", "acme vpc-b", R"({"network":"vpc","subnet":"b1","private_ip":"10.1.1.5"})"});
  EXPECT_THROW(WorldFromRows(rows, "kura.test"), DocumentError);
  rows.pop_back();
  rows.push_back({"instance", "bad name", R"({"account":"A"})"});
  EXPECT_THROW(WorldFromRows(rows, "kura.test"), DocumentError);
  rows.back().body = "not json";
  EXPECT_THROW(WorldFromRows(rows, "kura.test"), DocumentError);
}

// Start-up holds instances until their allow rows are read (they follow in the same order of
// names). Names that are prefixes of one another, instances without entries, and an entry of no
// instance.
TEST(WorldRowsTest, EachInstanceGetsExactlyItsOwnEntries) {
  access::World w = Cloud();
  const std::vector<std::string> names = {"a", "a-b", "a0", "ab", "abc", "b", "b-1", "z"};
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_TRUE(w.CreateInstance(names[i], "A", "r1", access::Edition::kEnterprise,
                                 "inc-" + std::to_string(i))
                    .ok());
    if (i % 3 == 2) continue;  // some have none
    std::vector<access::AllowlistEntry> entries;
    for (size_t k = 0; k <= i; ++k) {
      const std::string cidr = "10.9." + std::to_string(i) + "." + std::to_string(k) + "/32";
      entries.push_back({C(cidr.c_str()), names[i] + " " + std::to_string(k)});
    }
    ASSERT_TRUE(w.ReplaceAllowlist(names[i], entries).ok());
    ASSERT_TRUE(w.SetInternetEnabled(names[i], i % 2 == 0).ok());
  }
  access::World restored = WorldFromRows(WorldToRows(w), "kura.test");
  for (const std::string& name : names) {
    const access::Instance* want = w.FindInstance(name);
    const access::Instance* got = restored.FindInstance(name);
    ASSERT_NE(got, nullptr) << name;
    EXPECT_EQ(got->internet.allowlist.entries(), want->internet.allowlist.entries()) << name;
    EXPECT_EQ(got->internet.enabled, want->internet.enabled) << name;
    EXPECT_EQ(got->incarnation, want->incarnation) << name;
  }
  EXPECT_EQ(WorldToRows(restored), WorldToRows(w));

  // An allow row of an instance that has no row is refused, wherever it sorts.
  for (const char* stray : {"0 10.8.0.1/32", "a-a 10.8.0.1/32", "zz 10.8.0.1/32"}) {
    std::vector<WorldRow> rows = WorldToRows(w);
    rows.push_back({"allow", stray, R"({"cidr":"10.8.0.1/32","description":"","position":0})"});
    std::sort(rows.begin(), rows.end(), [](const WorldRow& x, const WorldRow& y) {
      return std::tie(x.kind, x.key) < std::tie(y.kind, y.key);
    });  // in key order, as a store reads them
    EXPECT_THROW(WorldFromRows(rows, "kura.test"), DocumentError) << stray;
  }
  // Instance rows out of key order, or one twice: refused (their allow rows could not be found).
  for (const char* second : {"a", "0"}) {
    std::vector<WorldRow> rows = WorldToRows(w);
    auto last = std::find_if(rows.begin(), rows.end(), [](const WorldRow& r) {
      return r.kind == "instance" && r.key == "z";
    });
    ASSERT_NE(last, rows.end());
    rows.insert(last + 1, {"instance", second, last->body});
    EXPECT_THROW(WorldFromRows(rows, "kura.test"), DocumentError) << second;
  }
  // So is an allow row of a personal instance.
  std::vector<WorldRow> rows = WorldToRows(Cloud());
  rows.push_back(
      {"instance", "p",
       R"({"account":"A","edition":"personal","incarnation":"i","internet_enabled":true,"region":"r1"})"});
  rows.push_back(
      {"allow", "p 10.8.0.1/32", R"({"cidr":"10.8.0.1/32","description":"","position":0})"});
  EXPECT_THROW(WorldFromRows(rows, "kura.test"), DocumentError);
}

// Random admin operations on one node's World; after each, the rows it changed are applied to a
// second node's World. Both must then hold the same rows, and the rows must restore the World.
TEST(WorldRowsTest, ANodeReplayingAnothersRowsEndsWithTheSameWorld) {
  std::mt19937 rng(2026);
  access::World origin = Cloud();
  access::World replica = origin;
  const std::vector<std::string> names = {"acme", "beta", "gamma", "delta"};
  const std::vector<std::string> cidrs = {"203.0.113.0/24", "198.51.100.0/24", "192.0.2.1/32",
                                          "0.0.0.0/0", "2001:db8::/32"};
  int applied = 0;
  for (int step = 0; step < 3000; ++step) {
    access::World next = origin;
    const std::string& name = names[rng() % names.size()];
    const std::string& cidr = cidrs[rng() % cidrs.size()];
    access::Status s = access::Status::Ok();
    switch (rng() % 10) {
      case 0:
        s = next.CreateInstance(
            name, rng() % 2 ? "A" : "B", "r1",
            rng() % 3 ? access::Edition::kEnterprise : access::Edition::kPersonal,
            "inc-" + std::to_string(step));
        break;
      case 1:
        s = next.DeleteInstance(name);
        break;
      case 2:
      case 3:
        s = next.AllowCidr(name, {C(cidr.c_str()), "d" + std::to_string(rng() % 3)});
        break;
      case 4:
        s = next.RevokeCidr(name, C(cidr.c_str()));
        break;
      case 5:
        s = next.SetInternetEnabled(name, rng() % 2);
        break;
      case 6: {
        const access::Instance* i = next.FindInstance(name);
        const std::string account = i ? i->account : "A";
        s = next.Bind(name, {account, "vpc"}, account == "A" ? (rng() % 2 ? "a1" : "a2") : "b1");
        break;
      }
      case 7:
        s = next.Unbind(name, "vpc");
        break;
      case 8: {
        std::vector<access::AllowlistEntry> entries;
        for (size_t k = 0; k < cidrs.size(); ++k) {
          if (rng() % 2) entries.push_back({C(cidrs[k].c_str()), "bulk"});
        }
        std::shuffle(entries.begin(), entries.end(), rng);
        s = next.ReplaceAllowlist(name, std::move(entries));
        break;
      }
      case 9: {
        // A record of one's own in a binding's zone, by hand.
        const access::Instance* i = next.FindInstance(name);
        if (i != nullptr && !i->vpc.bindings.empty()) {
          const std::string zone =
              next.Hostname(*i, access::EndpointKind::kVpc) + "@" + i->vpc.bindings[0].network;
          s = next.SetRecord(zone, {"extra." + next.Hostname(*i, access::EndpointKind::kVpc),
                                    *core::IpAddress::Parse("10.0.2.200")});
        }
        break;
      }
    }
    if (!s.ok()) continue;
    std::vector<WorldRow> rows = WorldRowChanges(origin, next);
    ASSERT_TRUE(ApplyWorldRowChanges(replica, rows)) << "step " << step;
    origin = std::move(next);
    ++applied;
    ASSERT_EQ(WorldToRows(replica), WorldToRows(origin)) << "step " << step;
    if (step % 100 == 0) {
      ASSERT_EQ(WorldToRows(WorldFromRows(WorldToRows(origin), "kura.test")), WorldToRows(origin));
    }
  }
  EXPECT_GT(applied, 1000);
}

TEST(WorldRowsTest, AChangeNoOperationCanReplayAsksForAFullLoad) {
  access::World w = Cloud();
  // A network's blocks never change through the admin API: rows saying so cannot be replayed.
  std::vector<WorldRow> rows = {
      {"network", "A/vpc", R"({"id":"vpc","account":"A","region":"r1","cidrs":["10.5.0.0/16"]})"}};
  EXPECT_FALSE(ApplyWorldRowChanges(w, rows));
  access::World fresh = Cloud();
  EXPECT_FALSE(ApplyWorldRowChanges(fresh, {{"account", "A", std::nullopt}}));
}

}  // namespace
}  // namespace kura::admin
