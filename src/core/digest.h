// Content digests: "sha256:<64 lowercase hex>" (and "sha512:<128 hex>", parsed but never produced).
// The digest is the identity of every blob and manifest in the registry.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kura::core {

// A syntactically valid digest. Construct only through ParseDigest or Sha256::Finish.
class Digest {
 public:
  std::string_view algorithm() const { return std::string_view(value_).substr(0, colon_); }
  std::string_view hex() const { return std::string_view(value_).substr(colon_ + 1); }
  const std::string& str() const { return value_; }
  bool operator==(const Digest& o) const { return value_ == o.value_; }

 private:
  friend std::optional<Digest> ParseDigest(std::string_view text);
  Digest(std::string value, size_t colon) : value_(std::move(value)), colon_(colon) {}
  std::string value_;
  size_t colon_ = 0;
};

// Returns the digest if `text` is "sha256:" + 64 lowercase hex, or "sha512:" + 128 lowercase hex.
// Returns nullopt for anything else (other algorithms, upper case, wrong length).
std::optional<Digest> ParseDigest(std::string_view text);

// Streaming SHA-256 (OpenSSL's, with SHA-NI where the CPU has it) whose state can be saved and
// restored: a chunked upload whose PATCHes land on different nodes hashes each chunk where it
// arrives, carrying the state in the upload session (meta_store.h) instead of re-reading every
// byte received so far. Movable, not copyable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void Update(const void* data, size_t len);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Returns the digest of everything passed to Update. The object may not be used afterwards.
  Digest Finish();
  uint64_t bytes() const { return bytes_; }

  // The state after the bytes hashed so far, as printable text (about 250 characters) that
  // Restore takes back on any node.
  std::string SaveState() const;
  // The hasher SaveState described, or nullopt when `text` is not such a state.
  static std::optional<Sha256> Restore(std::string_view text);

 private:
  struct Context;  // OpenSSL's SHA256_CTX
  std::unique_ptr<Context> ctx_;
  uint64_t bytes_ = 0;
};

// The sha256 digest of `data`.
Digest Sha256Of(std::string_view data);

}  // namespace kura::core
