#include "server/password_checks.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "auth/password.h"

namespace kura::server {

unsigned PasswordChecks::DefaultThreads() {
  return std::clamp(std::thread::hardware_concurrency() / 2, 1u, 2u);
}

PasswordChecks::PasswordChecks(unsigned threads, size_t max_queued) : max_queued_(max_queued) {
  threads = std::max(1u, threads);
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

PasswordChecks::~PasswordChecks() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  queue_.clear();
}

size_t PasswordChecks::queued() {
  std::lock_guard lock(mu_);
  return queue_.size();
}

PasswordChecks::Outcome PasswordChecks::Check(const std::string& password,
                                              const std::vector<std::string>& hashes) {
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (auth::CheckPassword(password, hashes[i])) return Outcome{Outcome::Kind::kMatch, i};
  }
  return Outcome{Outcome::Kind::kNoMatch, 0};
}

std::unique_ptr<PasswordChecks::Job> PasswordChecks::Enqueue(std::unique_ptr<Job> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= max_queued_) return job;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return nullptr;
}

void PasswordChecks::Run() {
  // A thread's nice value is its own on Linux (setpriority on the thread id). Failing to lower
  // it leaves the thread at the I/O threads' priority: slower bystanders, nothing worse.
  int nice_now = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice_now + kNiceIncrement);
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::unique_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    job->Run();
    job.reset();
    lock.lock();
  }
}

}  // namespace kura::server
