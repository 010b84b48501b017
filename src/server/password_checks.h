// Password checks off the I/O threads. A bcrypt check costs tens of milliseconds on purpose; done
// on an I/O thread, a flood of wrong passwords stalled every request that thread served, other
// tenants' pulls among them. Here a small pool of threads of their own, at a lower CPU priority
// than the I/O threads, checks passwords from a bounded queue; a coroutine co_awaits the outcome
// and resumes on its own executor. When the queue is full the check is not made at all (kBusy),
// so a flood costs a bounded amount of CPU and memory and is answered 429 at once.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace kura::server {

class PasswordChecks {
 public:
  // Half the cores, at least 1 and at most 2: on a 2-core machine one core is always free of
  // bcrypt for the I/O threads; two threads check about 30 passwords a second.
  static unsigned DefaultThreads();
  static constexpr size_t kDefaultMaxQueued = 32;
  // Added to the nice value of the pool's threads: under contention the I/O threads get the CPU
  // first, and logins wait (bounded by the queue) rather than pulls.
  static constexpr int kNiceIncrement = 10;

  struct Outcome {
    enum class Kind { kMatch, kNoMatch, kBusy } kind = Kind::kNoMatch;
    size_t matched = 0;  // kMatch: the index of the hash that matched
  };

  // Starts `threads` threads (at least 1); at most `max_queued` checks wait for one.
  explicit PasswordChecks(unsigned threads = DefaultThreads(),
                          size_t max_queued = kDefaultMaxQueued);
  // Stops the threads after the checks they are running; queued checks are dropped without
  // completing (their handlers are destroyed). Destroy the pool before the executors its
  // handlers use.
  ~PasswordChecks();
  PasswordChecks(const PasswordChecks&) = delete;
  PasswordChecks& operator=(const PasswordChecks&) = delete;

  // Checks `password` against each crypt(3) hash of `hashes` on a pool thread and completes
  // with void(Outcome) on the completion handler's associated executor; with kBusy at once
  // (without checking) when the queue is full. Thread-safe.
  template <typename CompletionToken>
  auto AsyncCheck(std::string password, std::vector<std::string> hashes, CompletionToken&& token);

  // Checks waiting for a thread, and the queue's bound.
  size_t queued();
  size_t max_queued() const { return max_queued_; }

 private:
  struct Job {
    virtual ~Job() = default;
    // Runs the check and completes; on a pool thread.
    virtual void Run() = 0;
    // Completes with kBusy without checking.
    virtual void Refuse() = 0;
  };
  template <typename Handler, typename Executor>
  struct CheckJob;

  static Outcome Check(const std::string& password, const std::vector<std::string>& hashes);
  // Queues `job`, or hands it back (null when queued) if the queue is full or stopping.
  std::unique_ptr<Job> Enqueue(std::unique_ptr<Job> job);
  void Run();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;  // guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  std::vector<std::thread> threads_;
};

template <typename Handler, typename Executor>
struct PasswordChecks::CheckJob final : Job {
  CheckJob(Handler h, Executor ex, std::string pw, std::vector<std::string> hs)
      : handler(std::move(h)),
        executor(std::move(ex)),
        password(std::move(pw)),
        hashes(std::move(hs)) {}
  void Run() override { Complete(Check(password, hashes)); }
  void Refuse() override { Complete(Outcome{Outcome::Kind::kBusy, 0}); }
  void Complete(Outcome outcome) {
    boost::asio::post(executor,
                      [h = std::move(handler), outcome]() mutable { std::move(h)(outcome); });
  }
  Handler handler;
  Executor executor;  // tracks outstanding work: the I/O loop keeps running until completion
  std::string password;
  std::vector<std::string> hashes;
};

template <typename CompletionToken>
auto PasswordChecks::AsyncCheck(std::string password, std::vector<std::string> hashes,
                                CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(Outcome)>(
      [this](auto handler, std::string pw, std::vector<std::string> hs) {
        auto executor = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                            boost::asio::execution::outstanding_work.tracked);
        using Job = CheckJob<decltype(handler), decltype(executor)>;
        auto job = std::make_unique<Job>(std::move(handler), std::move(executor), std::move(pw),
                                         std::move(hs));
        if (auto refused = Enqueue(std::move(job))) refused->Refuse();
      },
      token, std::move(password), std::move(hashes));
}

}  // namespace kura::server
