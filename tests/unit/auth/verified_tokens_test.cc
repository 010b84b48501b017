#include "auth/verified_tokens.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace kura::auth {
namespace {

constexpr int64_t kNow = 1700000000;

std::shared_ptr<const TokenClaims> Claims(int repositories = 1, int64_t expires_at = kNow + 300) {
  auto c = std::make_shared<TokenClaims>();
  c->subject = "alice";
  c->audience = "registry.example";
  c->not_before = kNow;
  c->expires_at = expires_at;
  for (int i = 0; i < repositories; ++i) {
    c->access.push_back({"repository", "team/repository-number-" + std::to_string(i), {"pull"}});
  }
  return c;
}

std::string Key(std::initializer_list<std::string_view> parts) {
  std::string key;
  VerifiedTokens::KeyOf(parts, key);
  return key;
}

std::string KeyFor(int n) {
  return Key({"incarnation", "registry.example", "token-" + std::to_string(n)});
}

TEST(VerifiedTokensTest, KeysTellPartsApart) {
  EXPECT_EQ(Key({"a", "b"}), Key({"a", "b"}));
  EXPECT_NE(Key({"a", "b"}), Key({"b", "a"}));
  // The same bytes split differently are different keys.
  EXPECT_NE(Key({"ab", "c"}), Key({"a", "bc"}));
  EXPECT_NE(Key({"a\nb", "c"}), Key({"a", "b\nc"}));
  EXPECT_NE(Key({"x", ""}), Key({"x"}));
  // The buffer is reused.
  std::string key = "left over";
  VerifiedTokens::KeyOf({"a"}, key);
  EXPECT_EQ(key, Key({"a"}));
}

TEST(VerifiedTokensTest, TokensDifferingInOneByteAreDifferentEntries) {
  VerifiedTokens cache;
  std::string token(8000, 't');
  cache.Remember(Key({"i", "s", token}), Claims(), kNow);
  std::string other = token;
  other[4000] = 'u';
  EXPECT_EQ(cache.Find(Key({"i", "s", other}), kNow), nullptr);
  EXPECT_EQ(cache.Find(Key({"i", "t", token}), kNow), nullptr);
  EXPECT_NE(cache.Find(Key({"i", "s", token}), kNow), nullptr);
  // The key's bytes count against the bound.
  EXPECT_GE(cache.bytes(), token.size());
}

TEST(VerifiedTokensTest, RemembersUntilExpiry) {
  VerifiedTokens cache;
  auto claims = Claims();
  cache.Remember(KeyFor(1), claims, kNow);
  EXPECT_EQ(cache.Find(KeyFor(1), kNow), claims);
  EXPECT_EQ(cache.Find(KeyFor(1), kNow + 299), claims);
  EXPECT_EQ(cache.Find(KeyFor(2), kNow), nullptr);
  // Expired: dropped, with its bytes.
  EXPECT_EQ(cache.Find(KeyFor(1), kNow + 300), nullptr);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
  // Not yet valid (beyond the leeway) is not answered either.
  cache.Remember(KeyFor(3), claims, kNow);
  EXPECT_EQ(cache.Find(KeyFor(3), kNow - kTokenLeewaySeconds - 1), nullptr);
  // Claims already expired are not remembered.
  cache.Remember(KeyFor(4), Claims(1, kNow - 1), kNow);
  EXPECT_EQ(cache.Find(KeyFor(4), kNow), nullptr);
}

TEST(VerifiedTokensTest, BoundedInEntries) {
  VerifiedTokens cache(/*max_entries=*/100, /*max_bytes=*/1 << 30);
  for (int i = 0; i < 1000; ++i) {
    cache.Remember(KeyFor(i), Claims(), kNow);
    ASSERT_LE(cache.size(), 100u);
  }
  EXPECT_NE(cache.Find(KeyFor(999), kNow), nullptr);
}

TEST(VerifiedTokensTest, BoundedInBytes) {
  constexpr size_t kMaxBytes = 256 * 1024;
  VerifiedTokens cache(/*max_entries=*/100000, kMaxBytes);
  auto big = Claims(60);  // a token near the 8 KiB limit
  size_t cost = VerifiedTokens::CostOf(*big, KeyFor(0).size());
  EXPECT_GT(cost, 60u * 40);  // the names and actions are counted
  size_t most = 0;
  for (int i = 0; i < 5000; ++i) {
    cache.Remember(KeyFor(i), Claims(60), kNow);
    ASSERT_LE(cache.bytes(), kMaxBytes);
    most = std::max(most, cache.size());
  }
  EXPECT_EQ(most, kMaxBytes / cost);  // it fills up to the bound before it starts afresh
  EXPECT_NE(cache.Find(KeyFor(4999), kNow), nullptr);
  // Claims that alone pass the bound are not remembered at all.
  VerifiedTokens small(100, cost - 1);  // KeyFor(1) is as long as KeyFor(0)
  small.Remember(KeyFor(1), big, kNow);
  EXPECT_EQ(small.size(), 0u);
  EXPECT_EQ(small.Find(KeyFor(1), kNow), nullptr);
}

TEST(VerifiedTokensTest, RememberingAgainReplaces) {
  VerifiedTokens cache;
  cache.Remember(KeyFor(1), Claims(), kNow);
  size_t bytes = cache.bytes();
  auto newer = Claims();
  cache.Remember(KeyFor(1), newer, kNow);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.bytes(), bytes);
  EXPECT_EQ(cache.Find(KeyFor(1), kNow), newer);
}

}  // namespace
}  // namespace kura::auth
