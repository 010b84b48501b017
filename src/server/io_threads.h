// The threads that run kura serve's I/O: one io_context each, so that a connection lives on one
// thread for its whole life. With one io_context run by every thread, each completion of a
// connection's coroutine could resume on another thread, and its buffers and socket moved
// between the cores' caches at every step: a 512 MiB pull from the page cache ran at 1.5 GB/s
// on two threads sharing one context, and at 2.7 GB/s on one.
//
// Besides the I/O threads, the control context (run by the thread that calls Run) holds the
// periodic work (upload expiry, the World's poll) and the signals. Periodic work blocks on the
// stores for a while; it never delays a request, nor the acceptors (on the I/O threads).
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

namespace kura::server {

class IoThreads {
 public:
  // `count` I/O threads, 1 at least.
  explicit IoThreads(unsigned count);
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  boost::asio::io_context& control() { return control_; }
  // The context of the next connection, in turn. Thread-safe.
  boost::asio::io_context& Next();
  unsigned count() const { return static_cast<unsigned>(connections_.size()); }

  // Runs the I/O threads, and the control context on the calling thread, until Stop.
  void Run();
  // Stops every context; Run returns once every thread has. Safe from any thread.
  void Stop();

 private:
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  boost::asio::io_context control_{1};
  std::vector<std::unique_ptr<boost::asio::io_context>> connections_;
  std::vector<WorkGuard> keep_running_;  // a context without work would return at once
  std::atomic<unsigned> next_{0};
};

}  // namespace kura::server
