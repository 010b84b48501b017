// libFuzzer target: token verification and scope parsing must never crash and must agree with
// their counterparts (Issue, FormatScope, Base64UrlEncode).
//  - the input as a scope: a parsed scope formats back to itself, and survives a token;
//  - the input as a JWT: Verify under a key nobody knows never succeeds;
//  - the input as "header JSON \n payload JSON", signed with the right key: Verify reaches the
//    claims checks; whatever it accepts must re-issue and re-verify to the same claims;
//  - the input as base64url: decoding is canonical (encode(decode(x)) == x).
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "auth/scope.h"
#include "auth/token.h"

namespace {

constexpr std::string_view kSecret = "fuzz-secret-fuzz-secret-fuzz-secret!";
constexpr std::string_view kIssuer = "kura-token";
constexpr std::string_view kService = "registry.example";
constexpr int64_t kNow = 1700000000;

const kura::auth::TokenSigner& Signer() {
  static const kura::auth::TokenSigner signer{std::string(kSecret), std::string(kIssuer)};
  return signer;
}

std::string Sign(const std::string& input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &n);
  return kura::auth::Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), n));
}

void CheckScope(std::string_view in) {
  auto scope = kura::auth::ParseScope(in);
  if (!scope) return;
  if (scope->empty()) __builtin_trap();
  std::string text = kura::auth::FormatScope(*scope);
  if (kura::auth::ParseScope(text) != scope) __builtin_trap();
  // A challenge built from a parsed scope carries it verbatim (nothing needed escaping).
  std::string challenge = kura::auth::BearerChallenge("r", "s", text);
  if (challenge.find("scope=\"" + text + "\"") == std::string::npos) __builtin_trap();

  kura::auth::TokenClaims claims;
  claims.subject = "fuzz";
  claims.audience = kService;
  claims.issued_at = claims.not_before = kNow;
  claims.expires_at = kNow + 300;
  claims.access = *scope;
  auto got = Signer().Verify(Signer().Issue(claims), kService, kNow, nullptr);
  if (!got || got->access != *scope) __builtin_trap();
  for (const auto& a : *scope) {
    for (const auto& action : a.actions) {
      if (!kura::auth::Allows(*got, a.type, a.name, action)) __builtin_trap();
    }
  }
}

void CheckForeignToken(std::string_view in) {
  static const kura::auth::TokenSigner stranger{std::string(40, 's'), std::string(kIssuer)};
  std::string why;
  if (stranger.Verify(in, kService, kNow, &why)) __builtin_trap();
  if (why.empty()) __builtin_trap();
}

void CheckSignedClaims(std::string_view in) {
  size_t nl = in.find('\n');
  if (nl == std::string_view::npos) return;
  std::string input = kura::auth::Base64UrlEncode(in.substr(0, nl)) + "." +
                      kura::auth::Base64UrlEncode(in.substr(nl + 1));
  std::string why;
  auto claims = Signer().Verify(input + "." + Sign(input), kService, kNow, &why);
  if (!claims) {
    if (why.empty()) __builtin_trap();
    return;
  }
  if (claims->issuer != kIssuer || claims->audience != kService) __builtin_trap();
  auto again = Signer().Verify(Signer().Issue(*claims), kService, kNow, nullptr);
  // Issue replaces bytes that are not UTF-8; Verify only ever returns valid UTF-8 (the JSON
  // parser refuses the rest), so the round trip is exact. An empty jti gets a random one.
  if (!again) __builtin_trap();
  if (!claims->id.empty() && *again != *claims) __builtin_trap();
}

void CheckBase64Url(std::string_view in) {
  if (auto bytes = kura::auth::Base64UrlDecode(in)) {
    if (kura::auth::Base64UrlEncode(*bytes) != in) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  CheckScope(in);
  CheckForeignToken(in);
  CheckSignedClaims(in);
  CheckBase64Url(in);
  (void)kura::auth::FormatRfc3339Utc(static_cast<int64_t>(std::hash<std::string_view>{}(in)));
  return 0;
}
