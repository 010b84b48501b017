// Bearer tokens of the Docker registry token protocol ("Token Authentication Implementation"):
// JWTs signed with HMAC-SHA256 (HS256) under a secret that the token endpoint and the registry
// share. Pure: no I/O and no clock; callers pass `now` in seconds since the Unix epoch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/scope.h"

namespace kura::auth {

// Tolerated clock difference, in seconds, when checking exp and nbf.
inline constexpr int64_t kTokenLeewaySeconds = 60;

// The largest token accepted or issued, in bytes. A token with a few scopes is well under 1 KiB;
// a larger one would only cost memory and hashing on every request that carries it.
inline constexpr size_t kMaxTokenSize = 8 * 1024;
// The reason Verify gives for a token over kMaxTokenSize.
inline constexpr std::string_view kTokenTooLarge = "token larger than 8 KiB";

// Claims of a token, as in the Docker token format.
struct TokenClaims {
  std::string issuer;          // iss: who signed it
  std::string subject;         // sub: the user; empty for an anonymous client
  std::string audience;        // aud: the service (registry) the token is for
  int64_t expires_at = 0;      // exp
  int64_t not_before = 0;      // nbf
  int64_t issued_at = 0;       // iat
  std::string id;              // jti: unique per token
  std::vector<Access> access;  // what the token grants

  bool operator==(const TokenClaims&) const = default;
};

// Issues and verifies HS256 tokens for one issuer.
class TokenSigner {
 public:
  // `secret` is the HMAC key as raw bytes (a RandomSecret() string may be used as is).
  // Throws std::invalid_argument if it is shorter than 32 bytes.
  TokenSigner(std::string secret, std::string issuer);

  // Returns a compact JWT ("header.payload.signature", base64url without padding) with header
  // {"alg":"HS256","typ":"JWT"} and all claims. `claims.issuer` is ignored: the token names
  // this signer's issuer. An empty `claims.id` is replaced by 16 random bytes in base64url.
  // The caller sets the times (typically iat = nbf = now, exp = now + lifetime). Bytes of
  // strings that are not valid UTF-8 are replaced by U+FFFD.
  // Throws std::runtime_error if random bytes or HMAC are unavailable.
  std::string Issue(const TokenClaims& claims) const;

  // Returns the claims of `jwt` if all of these hold, else nullopt:
  //  - at most kMaxTokenSize bytes (checked first, before any decoding or HMAC);
  //  - three base64url parts (no padding, canonical);
  //  - header is a JSON object with "alg":"HS256" and no "crit" ("none" and every other
  //    algorithm are refused, whatever the signature);
  //  - the signature is the HMAC-SHA256 of "header.payload" (compared in constant time);
  //  - payload is a JSON object with iss equal to this signer's issuer, aud equal to
  //    `expected_audience` (a string, or an array holding it), integer exp with
  //    now < exp + kTokenLeewaySeconds, and if present integer nbf with
  //    now >= nbf - kTokenLeewaySeconds. sub, jti and iat are optional (empty/0 if absent);
  //    access is optional (empty) but, if present, an array of
  //    {"type": string, "name": string, "actions": [string...]} (actions may be empty).
  // On failure, if `why` is not null, sets *why to one of kTokenTooLarge, "malformed token",
  // "unsupported algorithm", "bad signature", "wrong issuer", "wrong audience",
  // "token expired", "token not yet valid". The payload is parsed only after the signature
  // is known good, so a forged token can only earn kTokenTooLarge, "malformed token",
  // "unsupported algorithm" or "bad signature".
  std::optional<TokenClaims> Verify(std::string_view jwt, std::string_view expected_audience,
                                    int64_t now, std::string* why) const;

  const std::string& issuer() const { return issuer_; }

 private:
  std::string secret_;
  std::string issuer_;
};

// True if some entry of `claims.access` has this type and name and lists `action` or "*".
bool Allows(const TokenClaims& claims, std::string_view type, std::string_view name,
            std::string_view action);

// Body of a token endpoint response:
//   {"token":T,"access_token":T,"expires_in":N,"issued_at":"2024-05-01T12:00:00Z"}
// with `issued_at` (seconds since the epoch) formatted as RFC 3339 in UTC.
std::string TokenResponseJson(const std::string& token, int64_t expires_in, int64_t issued_at);

// Formats seconds since the epoch as RFC 3339 UTC ("1970-01-01T00:00:00Z"), proleptic
// Gregorian calendar. Years outside 0..9999 are written with as many digits as needed.
std::string FormatRfc3339Utc(int64_t seconds);

// 32 random bytes from the OpenSSL CSPRNG, base64url without padding (43 characters).
// Throws std::runtime_error if the CSPRNG fails.
std::string RandomSecret();

// base64url (RFC 4648 section 5) without padding.
std::string Base64UrlEncode(std::string_view bytes);

// Decodes base64url without padding. Returns nullopt for '=' or any character outside the
// alphabet, a length of 4k+1, or non-zero unused bits (so each byte string has one encoding).
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace kura::auth
