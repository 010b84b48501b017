#include "auth/verified_tokens.h"

#include <openssl/evp.h>

#include <cstring>
#include <stdexcept>

namespace kura::auth {
namespace {

// The SHA-256 implementation, fetched once: an implicit fetch (EVP_sha256()) on every
// initialisation would look it up in OpenSSL's method store, under its lock.
const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) throw std::runtime_error("OpenSSL has no SHA-256");
  return md;
}

// A digest context per thread, reused: no allocation per key.
EVP_MD_CTX* ThreadContext() {
  struct Holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Holder holder;
  if (holder.ctx == nullptr) throw std::runtime_error("EVP_MD_CTX_new failed");
  return holder.ctx;
}

size_t HeapBytes(const std::string& s) {
  // Strings up to the small-string capacity live inside the object.
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

}  // namespace

VerifiedTokens::Key VerifiedTokens::KeyOf(std::initializer_list<std::string_view> parts) {
  EVP_MD_CTX* ctx = ThreadContext();
  Key key{};
  bool ok = EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr) == 1;
  for (std::string_view part : parts) {
    uint64_t length = part.size();
    ok = ok && EVP_DigestUpdate(ctx, &length, sizeof length) == 1 &&
         EVP_DigestUpdate(ctx, part.data(), part.size()) == 1;
  }
  unsigned int size = 0;
  ok = ok && EVP_DigestFinal_ex(ctx, key.data(), &size) == 1 && size == key.size();
  if (!ok) throw std::runtime_error("SHA-256 failed");
  return key;
}

size_t VerifiedTokens::CostOf(const TokenClaims& claims) {
  // The map node (key, entry, pointers), the shared control block and the claims themselves.
  size_t cost = sizeof(Key) + sizeof(Entry) + 4 * sizeof(void*) + sizeof(TokenClaims) + 32;
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

size_t VerifiedTokens::KeyHash::operator()(const Key& key) const {
  // The key is a SHA-256: any 8 of its bytes are as good a hash as any.
  size_t h;
  std::memcpy(&h, key.data(), sizeof h);
  return h;
}

VerifiedTokens::VerifiedTokens(size_t max_entries, size_t max_bytes)
    : max_entries_(max_entries), max_bytes_(max_bytes) {}

namespace {

bool ValidAt(const TokenClaims& c, int64_t now) {
  return now < c.expires_at && now >= c.not_before - kTokenLeewaySeconds;
}

}  // namespace

std::shared_ptr<const TokenClaims> VerifiedTokens::Find(const Key& key, int64_t now) {
  auto hit = entries_.find(key);
  if (hit == entries_.end()) return nullptr;
  if (ValidAt(*hit->second.claims, now)) return hit->second.claims;
  bytes_ -= hit->second.cost;
  entries_.erase(hit);
  return nullptr;
}

void VerifiedTokens::Remember(const Key& key, std::shared_ptr<const TokenClaims> claims,
                              int64_t now) {
  if (!claims || !ValidAt(*claims, now)) return;
  size_t cost = CostOf(*claims);
  if (cost > max_bytes_ || max_entries_ == 0) return;
  if (auto old = entries_.find(key); old != entries_.end()) {
    bytes_ -= old->second.cost;
    entries_.erase(old);
  }
  if (entries_.size() >= max_entries_ || bytes_ + cost > max_bytes_) {
    entries_.clear();
    bytes_ = 0;
  }
  entries_.emplace(key, Entry{std::move(claims), cost});
  bytes_ += cost;
}

}  // namespace kura::auth
