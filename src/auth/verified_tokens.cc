#include "auth/verified_tokens.h"

namespace kura::auth {
namespace {

size_t HeapBytes(const std::string& s) {
  // Strings up to the small-string capacity live inside the object.
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

}  // namespace

void VerifiedTokens::KeyOf(std::initializer_list<std::string_view> parts, std::string& key) {
  key.clear();
  for (std::string_view part : parts) {
    uint32_t length = static_cast<uint32_t>(part.size());
    key.append(reinterpret_cast<const char*>(&length), sizeof length).append(part);
  }
}

size_t VerifiedTokens::CostOf(const TokenClaims& claims, size_t key_size) {
  // The map node (key, entry, pointers), the shared control block and the claims themselves.
  size_t cost = sizeof(std::string) + (key_size > 15 ? key_size + 1 : 0) + sizeof(Entry) +
                4 * sizeof(void*) + sizeof(TokenClaims) + 32;
  cost += HeapBytes(claims.issuer) + HeapBytes(claims.subject) + HeapBytes(claims.audience) +
          HeapBytes(claims.id);
  cost += claims.access.capacity() * sizeof(Access);
  for (const Access& a : claims.access) {
    cost += HeapBytes(a.type) + HeapBytes(a.name);
    for (const std::string& action : a.actions) {
      cost += sizeof(std::string) + 4 * sizeof(void*) + HeapBytes(action);  // a set node
    }
  }
  return cost;
}

VerifiedTokens::VerifiedTokens(size_t max_entries, size_t max_bytes)
    : max_entries_(max_entries), max_bytes_(max_bytes) {}

namespace {

bool ValidAt(const TokenClaims& c, int64_t now) {
  return now < c.expires_at && now >= c.not_before - kTokenLeewaySeconds;
}

}  // namespace

std::shared_ptr<const TokenClaims> VerifiedTokens::Find(std::string_view key, int64_t now) {
  auto hit = entries_.find(key);
  if (hit == entries_.end()) return nullptr;
  if (ValidAt(*hit->second.claims, now)) return hit->second.claims;
  bytes_ -= hit->second.cost;
  entries_.erase(hit);
  return nullptr;
}

void VerifiedTokens::Remember(std::string_view key, std::shared_ptr<const TokenClaims> claims,
                              int64_t now) {
  if (!claims || !ValidAt(*claims, now)) return;
  size_t cost = CostOf(*claims, key.size());
  if (cost > max_bytes_ || max_entries_ == 0) return;
  if (auto old = entries_.find(key); old != entries_.end()) {
    bytes_ -= old->second.cost;
    entries_.erase(old);
  }
  if (entries_.size() >= max_entries_ || bytes_ + cost > max_bytes_) {
    entries_.clear();
    bytes_ = 0;
  }
  entries_.emplace(std::string(key), Entry{std::move(claims), cost});
  bytes_ += cost;
}

}  // namespace kura::auth
