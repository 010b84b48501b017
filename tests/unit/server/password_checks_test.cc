#include "server/password_checks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "auth/password.h"

namespace kura::server {
namespace {

namespace asio = boost::asio;
using Kind = PasswordChecks::Outcome::Kind;

// One bcrypt hash for all the tests: making one costs as much as checking one.
const std::string& Hash() {
  static const std::string hash = auth::HashPassword("right-password");
  return hash;
}

TEST(PasswordChecksTest, ChecksOffTheCallingThreadAndResumesOnItsExecutor) {
  PasswordChecks checks(1, 4);
  asio::io_context io;
  std::thread::id io_thread, resumed_on;
  std::vector<PasswordChecks::Outcome> got;
  // (GCC 12 cannot build string literals inside these coroutines, gtest's macros included.)
  const std::string wrong = "wrong", right = "right-password", anything = "anything";
  const std::vector<std::string> one_hash = {Hash()};
  const std::vector<std::string> two_hashes = {"$2b$10$notahashatall", Hash()};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        io_thread = std::this_thread::get_id();
        got.push_back(co_await checks.AsyncCheck(wrong, one_hash, asio::use_awaitable));
        resumed_on = std::this_thread::get_id();
        got.push_back(co_await checks.AsyncCheck(right, two_hashes, asio::use_awaitable));
        got.push_back(co_await checks.AsyncCheck(anything, {}, asio::use_awaitable));
      },
      asio::detached);
  io.run();  // returns once the coroutine is done: a pending check keeps the loop running
  EXPECT_EQ(resumed_on, io_thread);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].kind, Kind::kNoMatch);
  EXPECT_EQ(got[1].kind, Kind::kMatch);
  EXPECT_EQ(got[1].matched, 1u);
  EXPECT_EQ(got[2].kind, Kind::kNoMatch);
}

TEST(PasswordChecksTest, AFullQueueAnswersBusyAtOnce) {
  // One thread, two places in the queue: of many checks sent at once, one runs, two wait and
  // the rest are refused without being checked.
  constexpr int kSent = 12;
  PasswordChecks checks(1, 2);
  asio::io_context io;
  const std::string wrong = "wrong";
  const std::vector<std::string> one_hash = {Hash()};
  std::vector<Kind> kinds;
  for (int i = 0; i < kSent; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto outcome = co_await checks.AsyncCheck(wrong, one_hash, asio::use_awaitable);
          kinds.push_back(outcome.kind);
        },
        asio::detached);
  }
  io.run();
  ASSERT_EQ(kinds.size(), static_cast<size_t>(kSent));
  int busy = 0, checked = 0;
  for (Kind k : kinds) (k == Kind::kBusy ? busy : checked)++;
  // At least the queue's places and at most one more (the thread may take the first check
  // before the others are sent) are checked; every other check is refused.
  EXPECT_GE(checked, 2);
  EXPECT_LE(checked, 3);
  EXPECT_EQ(busy, kSent - checked);
  EXPECT_EQ(checks.queued(), 0u);
}

TEST(PasswordChecksTest, StoppingDropsQueuedChecks) {
  asio::io_context io;
  std::atomic<int> completed{0};
  const std::string wrong = "wrong";
  const std::vector<std::string> one_hash = {Hash()};
  {
    PasswordChecks checks(1, 8);
    for (int i = 0; i < 4; ++i) {
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            co_await checks.AsyncCheck(wrong, one_hash, asio::use_awaitable);
            ++completed;
          },
          asio::detached);
    }
    io.poll();  // starts every coroutine: each queues its check and waits
  }
  // The pool is gone; what it finished is posted, what it dropped never completes.
  io.restart();
  io.run();
  EXPECT_LE(completed.load(), 1);
}

}  // namespace
}  // namespace kura::server
