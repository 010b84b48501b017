#include "server/login_throttle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kura::server {
namespace {

using Clock = LoginThrottle::Clock;
using Reason = LoginThrottle::Refusal::Reason;
constexpr int kLimit = LoginThrottle::kMaxFailures;

core::IpAddress Ip(const std::string& text) {
  return *core::IpAddress::Parse(text);
}

// One finished attempt: true if it was let through (and then failed or succeeded as told).
bool Try(LoginThrottle& t, const std::string& source, std::string_view instance,
         std::string_view user, bool good, Clock::time_point now,
         LoginThrottle::Refusal* refusal = nullptr) {
  auto begun = t.Begin(Ip(source), instance, user, now);
  if (!begun.attempt) {
    if (refusal) *refusal = begun.refusal;
    return false;
  }
  if (good) {
    begun.attempt->Succeeded(now);
  } else {
    begun.attempt->Failed(now);
  }
  return true;
}

TEST(LoginThrottleTest, SourceLimitIsNotClearedByASuccessElsewhere) {
  LoginThrottle t;
  auto now = Clock::now();
  int checked = 0;
  for (int i = 0; i < 3 * kLimit; ++i) {
    if (!Try(t, "192.0.2.1", "victim", "alice", false, now)) break;
    ++checked;
    Try(t, "192.0.2.1", "mine", "mallory", true, now);  // the attacker's own instance
  }
  EXPECT_EQ(checked, kLimit);
  LoginThrottle::Refusal refusal{};
  EXPECT_FALSE(Try(t, "192.0.2.1", "mine", "mallory", true, now, &refusal));
  EXPECT_EQ(refusal.reason, Reason::kSource);
  EXPECT_EQ(refusal.retry_after, LoginThrottle::kWindow);
  // Other sources are not held back; but alice's own count reached the limit as well, so she is
  // refused from every source.
  EXPECT_TRUE(Try(t, "192.0.2.2", "mine", "mallory", true, now));
  EXPECT_FALSE(Try(t, "192.0.2.2", "victim", "alice", true, now, &refusal));
  EXPECT_EQ(refusal.reason, Reason::kUser);
  // The window ends.
  auto later = now + LoginThrottle::kWindow;
  EXPECT_TRUE(Try(t, "192.0.2.1", "victim", "alice", true, later));
}

TEST(LoginThrottleTest, UserLimitAcrossSources) {
  LoginThrottle t;
  auto now = Clock::now();
  int checked = 0;
  for (int i = 0; i < 100; ++i) {
    if (Try(t, "198.51.100." + std::to_string(i + 1), "target", "ann", false, now)) ++checked;
  }
  EXPECT_EQ(checked, kLimit);
  LoginThrottle::Refusal refusal{};
  EXPECT_FALSE(Try(t, "203.0.113.1", "target", "ann", true, now, &refusal));  // even right
  EXPECT_EQ(refusal.reason, Reason::kUser);
  // The same name at another instance, and another user of the same instance, are their own.
  EXPECT_TRUE(Try(t, "203.0.113.1", "elsewhere", "ann", true, now));
  EXPECT_TRUE(Try(t, "203.0.113.1", "target", "bob", true, now));
  // Retry-After counts down with the window.
  EXPECT_FALSE(
      Try(t, "203.0.113.1", "target", "ann", true, now + std::chrono::seconds(45), &refusal));
  EXPECT_EQ(refusal.retry_after, std::chrono::seconds(15));
}

TEST(LoginThrottleTest, SuccessClearsOnlyItsOwnUser) {
  LoginThrottle t;
  auto now = Clock::now();
  for (int i = 0; i < kLimit - 1; ++i) {
    ASSERT_TRUE(Try(t, "192.0.2." + std::to_string(i + 1), "acme", "ann", false, now));
  }
  ASSERT_TRUE(Try(t, "192.0.2.100", "acme", "ann", true, now));  // ann logs in: her count is 0
  for (int i = 0; i < kLimit; ++i) {
    ASSERT_TRUE(Try(t, "192.0.2." + std::to_string(i + 1), "acme", "ann", false, now)) << i;
  }
  EXPECT_FALSE(Try(t, "192.0.2.100", "acme", "ann", true, now));
}

TEST(LoginThrottleTest, AttemptsInFlightCountOnceAFailureIsThere) {
  LoginThrottle t;
  auto now = Clock::now();
  // No failure yet: parallel logins of one source are all let through.
  std::vector<LoginThrottle::Attempt> parallel;
  for (int i = 0; i < 3 * kLimit; ++i) {
    auto begun = t.Begin(Ip("192.0.2.1"), "acme", "user" + std::to_string(i), now);
    ASSERT_TRUE(begun.attempt);
    parallel.push_back(std::move(*begun.attempt));
  }
  parallel.back().Failed(now);
  // One failure: the attempts in flight now count toward the limit.
  EXPECT_FALSE(t.Begin(Ip("192.0.2.1"), "acme", "other", now).attempt);
  parallel.clear();  // abandoned: neither success nor failure
  EXPECT_TRUE(t.Begin(Ip("192.0.2.1"), "acme", "other", now).attempt);
}

TEST(LoginThrottleTest, AbandonedAttemptsLeaveNothing) {
  LoginThrottle t;
  auto now = Clock::now();
  {
    auto begun = t.Begin(Ip("192.0.2.1"), "acme", "ann", now);
    ASSERT_TRUE(begun.attempt);
    EXPECT_EQ(t.tracked_sources(), 1u);
    EXPECT_EQ(t.tracked_users(), 1u);
  }
  EXPECT_EQ(t.tracked_sources(), 0u);
  EXPECT_EQ(t.tracked_users(), 0u);
  ASSERT_TRUE(Try(t, "192.0.2.1", "acme", "ann", true, now));
  EXPECT_EQ(t.tracked_sources(), 0u);
  EXPECT_EQ(t.tracked_users(), 0u);
}

TEST(LoginThrottleTest, AnAttemptMayOutliveTheThrottle) {
  // At shutdown a coroutine frame holding an attempt can be destroyed after the gateway.
  std::optional<LoginThrottle::Attempt> attempt;
  {
    LoginThrottle t;
    auto begun = t.Begin(Ip("192.0.2.1"), "acme", "ann", Clock::now());
    ASSERT_TRUE(begun.attempt);
    attempt.emplace(std::move(*begun.attempt));
  }
  attempt->Failed();
  attempt.reset();
}

TEST(LoginThrottleTest, UnreadableCredentialsCountForTheSourceOnly) {
  LoginThrottle t;
  auto now = Clock::now();
  for (int i = 0; i < kLimit; ++i) {
    auto begun = t.Begin(Ip("192.0.2.1"), std::nullopt, "", now);
    ASSERT_TRUE(begun.attempt);
    begun.attempt->Failed(now);
  }
  EXPECT_EQ(t.tracked_users(), 0u);
  LoginThrottle::Refusal refusal{};
  EXPECT_FALSE(Try(t, "192.0.2.1", "acme", "ann", true, now, &refusal));
  EXPECT_EQ(refusal.reason, Reason::kSource);
}

TEST(LoginThrottleTest, Ipv6CountsPerSlash64AndMappedIpv4AsIpv4) {
  LoginThrottle t;
  auto now = Clock::now();
  for (int i = 0; i < kLimit; ++i) {
    ASSERT_TRUE(Try(t, "2001:db8:1:2::" + std::to_string(i + 1), "acme", "u" + std::to_string(i),
                    false, now));
  }
  EXPECT_FALSE(Try(t, "2001:db8:1:2:ffff::1", "acme", "x", true, now));
  EXPECT_TRUE(Try(t, "2001:db8:1:3::1", "acme", "x", true, now));
  for (int i = 0; i < kLimit; ++i) {
    ASSERT_TRUE(Try(t, "192.0.2.7", "acme", "v" + std::to_string(i), false, now));
  }
  EXPECT_FALSE(Try(t, "::ffff:192.0.2.7", "acme", "y", true, now));
}

TEST(LoginThrottleTest, MemoryIsBounded) {
  LoginThrottle t;
  auto now = Clock::now();
  // Failures from ever new sources and users fill the tables up to the bound, not beyond.
  const size_t n = LoginThrottle::kMaxTracked + 50;
  size_t refused_full = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t v = 0x0a000000u + static_cast<uint32_t>(i);
    auto begun = t.Begin(core::IpAddress::V4(v), "acme", "user-" + std::to_string(i), now);
    if (!begun.attempt) {
      EXPECT_EQ(begun.refusal.reason, Reason::kFull);
      ++refused_full;
      continue;
    }
    begun.attempt->Failed(now);
  }
  EXPECT_EQ(t.tracked_sources(), LoginThrottle::kMaxTracked);
  EXPECT_EQ(t.tracked_users(), LoginThrottle::kMaxTracked);
  EXPECT_EQ(refused_full, 50u);
  // Once the windows end, the ended entries are forgotten and new ones fit.
  auto later = now + LoginThrottle::kWindow + std::chrono::seconds(1);
  EXPECT_TRUE(Try(t, "192.0.2.1", "acme", "fresh", false, later));
  EXPECT_LE(t.tracked_sources(), 2u);
}

}  // namespace
}  // namespace kura::server
