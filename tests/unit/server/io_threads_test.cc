// server::IoThreads: connections are spread over the I/O threads in turn, a connection's
// coroutine resumes on its thread at every step, and periodic work on the control context never
// holds up an I/O thread.
#include "server/io_threads.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <future>
#include <set>
#include <thread>
#include <vector>

namespace kura::server {
namespace {

namespace asio = boost::asio;

// Runs `threads` on a thread of its own; stops it and joins on destruction.
class Running {
 public:
  explicit Running(IoThreads& threads) : threads_(threads), runner_([&] { threads_.Run(); }) {}
  ~Running() {
    threads_.Stop();
    runner_.join();
  }

 private:
  IoThreads& threads_;
  std::thread runner_;
};

TEST(IoThreadsTest, NextTakesEachContextInTurn) {
  IoThreads threads(3);
  EXPECT_EQ(threads.count(), 3u);
  std::vector<asio::io_context*> first;
  for (int i = 0; i < 3; ++i) first.push_back(&threads.Next());
  EXPECT_EQ(std::set<asio::io_context*>(first.begin(), first.end()).size(), 3u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(&threads.Next(), first[static_cast<size_t>(i % 3)]);
  for (asio::io_context* io : first) EXPECT_NE(io, &threads.control());
}

TEST(IoThreadsTest, NoThreadsMeansOne) {
  IoThreads threads(0);
  EXPECT_EQ(threads.count(), 1u);
}

// Each coroutine waits on timers 50 times; every resumption is on the thread it started on, and
// the coroutines of two contexts are on two threads.
TEST(IoThreadsTest, ACoroutineResumesOnItsOwnThreadAtEveryStep) {
  IoThreads threads(2);
  std::vector<std::promise<std::set<std::thread::id>>> seen(4);
  for (auto& promise : seen) {
    asio::io_context& io = threads.Next();
    asio::co_spawn(
        io,
        [&promise, &io]() -> asio::awaitable<void> {
          std::set<std::thread::id> ids;
          asio::steady_timer timer(io);
          for (int step = 0; step < 50; ++step) {
            ids.insert(std::this_thread::get_id());
            timer.expires_after(std::chrono::microseconds(step % 3));
            co_await timer.async_wait(asio::use_awaitable);
          }
          ids.insert(std::this_thread::get_id());
          promise.set_value(ids);
        },
        asio::detached);
  }
  Running running(threads);
  std::vector<std::thread::id> thread_of;
  for (auto& promise : seen) {
    auto future = promise.get_future();
    ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    std::set<std::thread::id> ids = future.get();
    ASSERT_EQ(ids.size(), 1u);
    thread_of.push_back(*ids.begin());
  }
  // Contexts taken in turn: coroutines 0 and 2 on one thread, 1 and 3 on the other.
  EXPECT_EQ(thread_of[0], thread_of[2]);
  EXPECT_EQ(thread_of[1], thread_of[3]);
  EXPECT_NE(thread_of[0], thread_of[1]);
}

// The control context blocks until an I/O thread has run a job: were they one thread, neither
// would ever run (the wait gives up after 10 s and the test fails instead of hanging).
TEST(IoThreadsTest, BlockingWorkOnTheControlContextHoldsNoIoThread) {
  IoThreads threads(1);
  std::promise<void> io_ran;
  std::promise<bool> control_saw_it;
  asio::post(threads.control(), [&] {
    bool ran = io_ran.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    control_saw_it.set_value(ran);
  });
  asio::post(threads.Next(), [&] { io_ran.set_value(); });
  Running running(threads);
  auto result = control_saw_it.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_TRUE(result.get());
}

TEST(IoThreadsTest, StopEndsRunWithWorkStillQueued) {
  IoThreads threads(2);
  asio::steady_timer never(threads.Next(), std::chrono::hours(1));
  bool fired = false;
  never.async_wait([&](const boost::system::error_code&) { fired = true; });
  auto run = std::async(std::launch::async, [&] { threads.Run(); });
  threads.Stop();
  EXPECT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_FALSE(fired);
}

}  // namespace
}  // namespace kura::server
