#include "server/io_threads.h"

#include <algorithm>
#include <thread>

namespace kura::server {

IoThreads::IoThreads(unsigned count) {
  count = std::max(1u, count);
  for (unsigned i = 0; i < count; ++i) {
    // One thread runs it: asio may leave out its locking.
    connections_.push_back(std::make_unique<boost::asio::io_context>(1));
    keep_running_.push_back(boost::asio::make_work_guard(*connections_.back()));
  }
}

boost::asio::io_context& IoThreads::Next() {
  return *connections_[next_.fetch_add(1, std::memory_order_relaxed) % connections_.size()];
}

void IoThreads::Run() {
  std::vector<std::thread> threads;
  for (auto& io : connections_) threads.emplace_back([&io] { io->run(); });
  control_.run();
  for (std::thread& t : threads) t.join();
}

void IoThreads::Stop() {
  for (auto& io : connections_) io->stop();
  control_.stop();
}

}  // namespace kura::server
