// The claims of registry tokens whose signature was already checked. A client sends its token on
// every request; checking the HMAC and parsing the JSON each time would cost more than the rest
// of a small request. Entries are keyed by a SHA-256 of what the token was verified for (the
// instance's incarnation, the service, the token itself), so a key is 32 bytes whatever the
// token, and the memory held is bounded in entries and in bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "auth/token.h"

namespace kura::auth {

// Not thread-safe: the gateway keeps one per I/O thread (no lock on the request path).
class VerifiedTokens {
 public:
  using Key = std::array<unsigned char, 32>;

  static constexpr size_t kDefaultMaxEntries = 4096;
  static constexpr size_t kDefaultMaxBytes = 4 << 20;

  // The key of a token verified in the context of `parts` (e.g. incarnation, service, token):
  // SHA-256 over each part preceded by its length, so that no two lists of parts share a key.
  // Allocates nothing.
  static Key KeyOf(std::initializer_list<std::string_view> parts);

  // The memory an entry holding `claims` costs, as counted against the byte bound: the claims'
  // strings and access entries, and the entry's own bookkeeping.
  static size_t CostOf(const TokenClaims& claims);

  explicit VerifiedTokens(size_t max_entries = kDefaultMaxEntries,
                          size_t max_bytes = kDefaultMaxBytes);
  VerifiedTokens(const VerifiedTokens&) = delete;
  VerifiedTokens& operator=(const VerifiedTokens&) = delete;

  // The claims remembered under `key` if they are valid at `now` (within exp and nbf, with the
  // leeway of kTokenLeewaySeconds for nbf); null otherwise. An expired entry is dropped.
  std::shared_ptr<const TokenClaims> Find(const Key& key, int64_t now);

  // Remembers `claims` under `key` if they are valid at `now`. Claims that alone cost more than
  // the byte bound are not remembered. When the entry or byte bound would be passed, everything
  // remembered is forgotten first (a full cache is rare; refilling it costs one check per token).
  void Remember(const Key& key, std::shared_ptr<const TokenClaims> claims, int64_t now);

  size_t size() const { return entries_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  struct Entry {
    std::shared_ptr<const TokenClaims> claims;
    size_t cost;
  };
  const size_t max_entries_;
  const size_t max_bytes_;
  size_t bytes_ = 0;
  std::unordered_map<Key, Entry, KeyHash> entries_;
};

}  // namespace kura::auth
