// Limits on failed logins (Basic passwords of an instance), so that guessing a password is slow:
// failures are counted per source address and per (instance, user), each in a window of its own.
//
//  - A source (an IPv4 address, or the /64 of an IPv6 address) with kMaxFailures failures in
//    kWindow is refused until the window ends, whatever it logs in to: a good login anywhere
//    (on an instance of its own) clears nothing of the source's count.
//  - A user of an instance whose password failed kMaxFailures times in kWindow, from any
//    sources, is refused until the window ends, even with the right password (otherwise the
//    limit would tell a guesser when a guess was right). A good login clears only that
//    (instance, user)'s own count.
//  - Attempts in flight (a password being checked) count toward both limits once there is a
//    failure in the window, so a burst of guesses sent at once is held back too; a source or a
//    user with no recent failure is never held back by its own parallel logins.
//  - Memory is bounded: at most kMaxTracked sources and kMaxTracked users, each entry a fixed
//    size (users are kept as a hash of instance and name). When a table is full of live windows
//    even after forgetting the ended ones, a new source or user is refused until windows end.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/cidr.h"

namespace kura::server {

class LoginThrottle {
  struct Counts;  // shared with the attempts in flight

 public:
  static constexpr int kMaxFailures = 10;
  static constexpr std::chrono::seconds kWindow{60};
  static constexpr size_t kMaxTracked = 100000;
  using Clock = std::chrono::steady_clock;

  // Why an attempt is refused, and for how long.
  struct Refusal {
    enum class Reason { kSource, kUser, kFull } reason;
    std::chrono::seconds retry_after;  // at least 1 s
  };

  // One login attempt between Begin and its outcome. Destroying it without an outcome (the
  // check could not be made, the connection went away) counts as neither success nor failure.
  // Movable, not copyable. It shares the throttle's counts: it may outlive the throttle (a
  // coroutine frame destroyed at shutdown), and then changes counts nobody reads.
  class Attempt {
   public:
    Attempt(Attempt&& o) noexcept = default;
    Attempt& operator=(Attempt&&) = delete;
    Attempt(const Attempt&) = delete;
    ~Attempt();
    // The password was right: clears this (instance, user)'s failures.
    void Succeeded(Clock::time_point now = Clock::now());
    // The password was wrong (or the credentials unreadable): one more failure for the source
    // and the user.
    void Failed(Clock::time_point now = Clock::now());

   private:
    friend class LoginThrottle;
    enum class Outcome { kNone, kSuccess, kFailure };
    Attempt(std::shared_ptr<Counts> counts, const core::IpAddress& source,
            std::optional<std::array<unsigned char, 16>> user)
        : counts_(std::move(counts)), source_(source), user_(user) {}
    void Finish(Outcome outcome, Clock::time_point now);

    std::shared_ptr<Counts> counts_;  // null once finished
    core::IpAddress source_;
    std::optional<std::array<unsigned char, 16>> user_;
  };

  // Begins an attempt from `source` to log in as `user` at the instance `instance_key` names
  // (its name and incarnation); with no user (unreadable credentials) only the source counts.
  // Returns the attempt, or why it is refused. Thread-safe.
  struct Begun {
    std::optional<Attempt> attempt;
    Refusal refusal{};  // when !attempt
  };
  Begun Begin(const core::IpAddress& source, std::optional<std::string_view> instance_key,
              std::string_view user, Clock::time_point now = Clock::now());

  // The names of a source's and a user's counts, as text, for counts kept in a store
  // (shared_login_limits.h): "source:<hex>" of the source's key (its /64 for IPv6), "user:<hex>"
  // of a hash of the instance key and the user name.
  static std::string SourceName(const core::IpAddress& source);
  static std::string UserName(std::string_view instance_key, std::string_view user);

  // Entries tracked (for tests).
  size_t tracked_sources();
  size_t tracked_users();

 private:
  struct Entry {
    int failures = 0;
    int in_flight = 0;
    Clock::time_point window_start;
  };
  using SourceKey = std::array<unsigned char, 17>;  // family, address (/64 for IPv6)
  using UserKey = std::array<unsigned char, 16>;    // SHA-256 prefix of instance and user
  struct KeyHash {
    template <size_t N>
    size_t operator()(const std::array<unsigned char, N>& key) const;
  };
  template <typename Key>
  using Table = std::unordered_map<Key, Entry, KeyHash>;
  struct Counts {
    std::mutex mu;
    Table<SourceKey> sources;  // guarded by mu
    Table<UserKey> users;      // guarded by mu
    Clock::time_point sources_pruned{};
    Clock::time_point users_pruned{};
  };

  static SourceKey SourceKeyOf(const core::IpAddress& source);
  static void Finish(Counts& counts, const core::IpAddress& source,
                     const std::optional<UserKey>& user, Attempt::Outcome outcome,
                     Clock::time_point now);
  template <typename Key>
  static std::optional<Refusal> Check(Table<Key>& table, const Key& key, Clock::time_point now,
                                      Refusal::Reason reason);
  template <typename Key>
  static bool MakeRoom(Table<Key>& table, const Key& key, Clock::time_point now,
                       Clock::time_point& last_prune);

  std::shared_ptr<Counts> counts_ = std::make_shared<Counts>();
};

}  // namespace kura::server
