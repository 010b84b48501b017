// The claims of registry tokens whose signature was already checked. A client sends its token on
// every request; checking the HMAC and parsing the JSON each time would cost more than the rest
// of a small request. An entry is found by a hash of what the token was verified for (the
// instance's incarnation, the service, the token itself) and matched against those bytes in
// full; tokens are at most kMaxTokenSize, and the memory held, keys included, is bounded in
// entries and in bytes.
//
// Why not a SHA-256 of the token as the key (32 bytes an entry): computing it on every request
// cost 17,000 instructions (+30% on a HEAD blob with a token, under callgrind); a hash of the
// table and one comparison cost a few hundred, and the bytes they keep are counted in the bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/token.h"

namespace kura::auth {

// Not thread-safe: the gateway keeps one per I/O thread (no lock on the request path).
class VerifiedTokens {
 public:
  static constexpr size_t kDefaultMaxEntries = 4096;
  static constexpr size_t kDefaultMaxBytes = 4 << 20;

  // Writes into `key` (cleared first) the key of a token verified in the context of `parts`
  // (e.g. incarnation, service, token): each part preceded by its length, so that no two lists
  // of parts share a key. Allocates nothing once `key` has grown to the size of a key.
  static void KeyOf(std::initializer_list<std::string_view> parts, std::string& key);

  // The memory an entry holding `claims` under a key of `key_size` bytes costs, as counted
  // against the byte bound: the key, the claims' strings and access entries, and the entry's own
  // bookkeeping.
  static size_t CostOf(const TokenClaims& claims, size_t key_size = 0);

  explicit VerifiedTokens(size_t max_entries = kDefaultMaxEntries,
                          size_t max_bytes = kDefaultMaxBytes);
  VerifiedTokens(const VerifiedTokens&) = delete;
  VerifiedTokens& operator=(const VerifiedTokens&) = delete;

  // The claims remembered under `key` if they are valid at `now` (within exp and nbf, with the
  // leeway of kTokenLeewaySeconds for nbf); null otherwise. An expired entry is dropped.
  // Allocates nothing.
  std::shared_ptr<const TokenClaims> Find(std::string_view key, int64_t now);

  // Remembers `claims` under `key` if they are valid at `now`. Claims that alone cost more than
  // the byte bound are not remembered. When the entry or byte bound would be passed, everything
  // remembered is forgotten first (a full cache is rare; refilling it costs one check per token).
  void Remember(std::string_view key, std::shared_ptr<const TokenClaims> claims, int64_t now);

  size_t size() const { return entries_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct KeyHash {
    using is_transparent = void;  // found by string_view: no key string per lookup
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>()(key); }
  };
  struct Entry {
    std::shared_ptr<const TokenClaims> claims;
    size_t cost;
  };
  const size_t max_entries_;
  const size_t max_bytes_;
  size_t bytes_ = 0;
  std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> entries_;
};

}  // namespace kura::auth
