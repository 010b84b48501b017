// Sha256 uses the SHA256_CTX functions, deprecated in OpenSSL 3 in favour of EVP, because EVP's
// context is opaque and its state cannot be saved (digest.h says why it must be).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "core/digest.h"

#include <openssl/sha.h>

#include <charconv>
#include <stdexcept>

namespace kura::core {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kStatePrefix = "sha256-v1:";

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::optional<Digest> ParseDigest(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view algorithm = text.substr(0, colon);
  std::string_view hex = text.substr(colon + 1);
  size_t want = algorithm == "sha256" ? 64 : algorithm == "sha512" ? 128 : 0;
  if (want == 0 || hex.size() != want || !IsLowerHex(hex)) return std::nullopt;
  return Digest(std::string(text), colon);
}

struct Sha256::Context {
  SHA256_CTX ctx;
};

Sha256::Sha256() : ctx_(std::make_unique<Context>()) {
  SHA256_Init(&ctx_->ctx);
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(const void* data, size_t len) {
  SHA256_Update(&ctx_->ctx, data, len);
  bytes_ += len;
}

Digest Sha256::Finish() {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_Final(md, &ctx_->ctx);
  std::string text = "sha256:";
  text.reserve(7 + 2 * sizeof md);
  for (unsigned char b : md) {
    text.push_back(kHex[b >> 4]);
    text.push_back(kHex[b & 15]);
  }
  return *ParseDigest(text);
}

// "sha256-v1:" then the byte count and every field of SHA256_CTX as 32-bit words, in hex. The
// fields are named one by one (not the struct's bytes), so the text means the same on any build.
std::string Sha256::SaveState() const {
  const SHA256_CTX& c = ctx_->ctx;
  std::string out = std::string(kStatePrefix) + std::to_string(bytes_);
  auto word = [&](uint32_t w) {
    out.push_back(':');
    for (int shift = 28; shift >= 0; shift -= 4) out.push_back(kHex[(w >> shift) & 15]);
  };
  for (uint32_t h : c.h) word(h);
  word(c.Nl);
  word(c.Nh);
  for (uint32_t d : c.data) word(d);
  word(c.num);
  word(c.md_len);
  return out;
}

std::optional<Sha256> Sha256::Restore(std::string_view text) {
  if (!text.starts_with(kStatePrefix)) return std::nullopt;
  text.remove_prefix(kStatePrefix.size());
  size_t colon = text.find(':');
  uint64_t bytes = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + std::min(colon, text.size()), bytes);
  if (ec != std::errc() || colon == std::string_view::npos || end != text.data() + colon) {
    return std::nullopt;
  }
  text.remove_prefix(colon);
  constexpr size_t kWords = 8 + 2 + SHA_LBLOCK + 2;
  if (text.size() != kWords * 9) return std::nullopt;
  uint32_t words[kWords];
  for (size_t i = 0; i < kWords; ++i) {
    std::string_view w = text.substr(i * 9, 9);
    if (w[0] != ':' || !IsLowerHex(w.substr(1))) return std::nullopt;
    std::from_chars(w.data() + 1, w.data() + 9, words[i], 16);
  }
  Sha256 h;
  SHA256_CTX& c = h.ctx_->ctx;
  size_t i = 0;
  for (uint32_t& v : c.h) v = words[i++];
  c.Nl = words[i++];
  c.Nh = words[i++];
  for (uint32_t& d : c.data) d = words[i++];
  c.num = words[i++];
  c.md_len = words[i++];
  // A state SaveState could not have written would make OpenSSL read past its block.
  if (c.num >= SHA256_CBLOCK || c.md_len != SHA256_DIGEST_LENGTH ||
      ((static_cast<uint64_t>(c.Nh) << 32 | c.Nl) != bytes * 8)) {
    return std::nullopt;
  }
  h.bytes_ = bytes;
  return h;
}

Digest Sha256Of(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

}  // namespace kura::core
