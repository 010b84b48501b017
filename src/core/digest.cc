#include "core/digest.h"

#include <stdexcept>

namespace kura::core {
namespace {

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

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL cannot initialise SHA-256");
  }
}

void Sha256::Update(const void* data, size_t len) {
  EVP_DigestUpdate(ctx_.get(), data, len);
  bytes_ += len;
}

Digest Sha256::Finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text = "sha256:";
  text.reserve(7 + 2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    text.push_back(kHex[md[i] >> 4]);
    text.push_back(kHex[md[i] & 15]);
  }
  return *ParseDigest(text);
}

Digest Sha256Of(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

}  // namespace kura::core
