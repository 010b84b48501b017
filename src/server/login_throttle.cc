#include "server/login_throttle.h"

#include <openssl/evp.h>

#include <cstring>

namespace kura::server {
namespace {

using Clock = LoginThrottle::Clock;

std::array<unsigned char, 16> UserKeyOf(std::string_view instance_key, std::string_view user) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  std::string text;
  text.reserve(instance_key.size() + 1 + user.size());
  text.append(instance_key).append(1, '\0').append(user);
  std::array<unsigned char, 16> key{};
  if (EVP_Digest(text.data(), text.size(), md, &size, EVP_sha256(), nullptr) == 1 &&
      size >= key.size()) {
    std::memcpy(key.data(), md, key.size());
  } else {
    // Without a digest every user shares one count: stricter, never looser.
    key.fill(0);
  }
  return key;
}

bool WindowEnded(const auto& entry, Clock::time_point now) {
  return now - entry.window_start >= LoginThrottle::kWindow;
}

std::chrono::seconds RetryAfter(Clock::time_point window_start, Clock::time_point now) {
  auto left = std::chrono::ceil<std::chrono::seconds>(window_start + LoginThrottle::kWindow - now);
  return std::max(left, std::chrono::seconds(1));
}

}  // namespace

template <size_t N>
size_t LoginThrottle::KeyHash::operator()(const std::array<unsigned char, N>& key) const {
  // FNV-1a: the keys are short and fixed in size.
  size_t h = 1469598103934665603ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  return h;
}

namespace {
template <size_t N>
std::string Hex(const std::array<unsigned char, N>& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}
}  // namespace

std::string LoginThrottle::SourceName(const core::IpAddress& source) {
  return "source:" + Hex(SourceKeyOf(source));
}

std::string LoginThrottle::UserName(std::string_view instance_key, std::string_view user) {
  return "user:" + Hex(UserKeyOf(instance_key, user));
}

LoginThrottle::SourceKey LoginThrottle::SourceKeyOf(const core::IpAddress& address) {
  core::IpAddress source = address.Unmapped();
  SourceKey key{};
  core::Uint128 v = source.value();
  if (source.is_v4()) {
    key[0] = 4;
  } else {
    key[0] = 6;
    v.low = 0;  // one count per /64: the block a single host or customer is usually given
  }
  std::memcpy(key.data() + 1, &v.high, 8);
  std::memcpy(key.data() + 9, &v.low, 8);
  return key;
}

template <typename Key>
std::optional<LoginThrottle::Refusal> LoginThrottle::Check(Table<Key>& table, const Key& key,
                                                           Clock::time_point now,
                                                           Refusal::Reason reason) {
  auto it = table.find(key);
  if (it == table.end()) return std::nullopt;
  Entry& e = it->second;
  if (e.failures > 0 && WindowEnded(e, now)) e.failures = 0;
  if (e.failures > 0 && e.failures + e.in_flight >= kMaxFailures) {
    return Refusal{reason, RetryAfter(e.window_start, now)};
  }
  return std::nullopt;
}

template <typename Key>
bool LoginThrottle::MakeRoom(Table<Key>& table, const Key& key, Clock::time_point now,
                             Clock::time_point& last_prune) {
  if (table.size() < kMaxTracked || table.contains(key)) return true;
  // Forgetting the ended windows walks the whole table: at most once a second, so that a full
  // table does not make every attempt slow.
  if (now - last_prune < std::chrono::seconds(1)) return false;
  last_prune = now;
  std::erase_if(table, [&](const auto& kv) {
    const Entry& e = kv.second;
    return e.in_flight == 0 && (e.failures == 0 || WindowEnded(e, now));
  });
  return table.size() < kMaxTracked;
}

LoginThrottle::Begun LoginThrottle::Begin(const core::IpAddress& source,
                                          std::optional<std::string_view> instance_key,
                                          std::string_view user, Clock::time_point now) {
  SourceKey source_key = SourceKeyOf(source);
  std::optional<UserKey> user_key;
  if (instance_key) user_key = UserKeyOf(*instance_key, user);
  Counts& c = *counts_;
  std::lock_guard lock(c.mu);
  Begun begun;
  if (auto refused = Check(c.sources, source_key, now, Refusal::Reason::kSource)) {
    begun.refusal = *refused;
    return begun;
  }
  if (user_key) {
    if (auto refused = Check(c.users, *user_key, now, Refusal::Reason::kUser)) {
      begun.refusal = *refused;
      return begun;
    }
  }
  if (!MakeRoom(c.sources, source_key, now, c.sources_pruned) ||
      (user_key && !MakeRoom(c.users, *user_key, now, c.users_pruned))) {
    begun.refusal = Refusal{Refusal::Reason::kFull, kWindow};
    return begun;
  }
  ++c.sources[source_key].in_flight;
  if (user_key) ++c.users[*user_key].in_flight;
  begun.attempt.emplace(Attempt(counts_, source, user_key));
  return begun;
}

void LoginThrottle::Finish(Counts& counts, const core::IpAddress& source,
                           const std::optional<UserKey>& user, Attempt::Outcome outcome,
                           Clock::time_point now) {
  auto settle = [&](auto& table, const auto& key, bool clear_on_success) {
    auto it = table.find(key);
    if (it == table.end()) return;
    Entry& e = it->second;
    --e.in_flight;
    if (outcome == Attempt::Outcome::kFailure) {
      if (e.failures == 0 || WindowEnded(e, now)) {
        e.failures = 0;
        e.window_start = now;
      }
      ++e.failures;
    } else if (outcome == Attempt::Outcome::kSuccess && clear_on_success) {
      e.failures = 0;
    }
    if (e.in_flight == 0 && e.failures == 0) table.erase(it);
  };
  SourceKey source_key = SourceKeyOf(source);
  std::lock_guard lock(counts.mu);
  settle(counts.sources, source_key, /*clear_on_success=*/false);
  if (user) settle(counts.users, *user, /*clear_on_success=*/true);
}

size_t LoginThrottle::tracked_sources() {
  std::lock_guard lock(counts_->mu);
  return counts_->sources.size();
}

size_t LoginThrottle::tracked_users() {
  std::lock_guard lock(counts_->mu);
  return counts_->users.size();
}

LoginThrottle::Attempt::~Attempt() {
  if (counts_) Finish(Outcome::kNone, Clock::now());
}

void LoginThrottle::Attempt::Succeeded(Clock::time_point now) {
  Finish(Outcome::kSuccess, now);
}

void LoginThrottle::Attempt::Failed(Clock::time_point now) {
  Finish(Outcome::kFailure, now);
}

void LoginThrottle::Attempt::Finish(Outcome outcome, Clock::time_point now) {
  if (!counts_) return;
  std::shared_ptr<Counts> counts = std::move(counts_);
  LoginThrottle::Finish(*counts, source_, user_, outcome, now);
}

}  // namespace kura::server
