#include "auth/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/bounded_json.h"

namespace kura::auth {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr size_t kSignatureSize = 32;  // SHA-256
constexpr size_t kMinSecretSize = 32;
constexpr size_t kRandomIdSize = 16;
constexpr std::string_view kHeaderJson = R"({"alg":"HS256","typ":"JWT"})";

constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Value of a base64url character, or -1.
int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::string RandomBytes(size_t n) {
  std::string bytes(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return bytes;
}

// HMAC-SHA256 of `data` under `key`; nullopt if OpenSSL fails.
std::optional<std::string> HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
           &mac_size) == nullptr ||
      mac_size != kSignatureSize) {
    return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(mac), mac_size);
}

// Parses base64url `text` as a JSON value; discarded on any error.
Json DecodeJsonPart(std::string_view text) {
  auto bytes = Base64UrlDecode(text);
  if (!bytes) return Json(Json::value_t::discarded);
  std::string why;
  // A token is client data like any body: its JSON is nested within the same bound.
  auto parsed = core::ParseBoundedJson(*bytes, &why);
  return parsed ? std::move(*parsed) : Json(Json::value_t::discarded);
}

// A JSON integer that fits int64_t; nullopt for anything else (including floats).
std::optional<int64_t> AsInt64(const Json& j) {
  if (j.is_number_unsigned()) {
    auto u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (j.is_number_integer()) return j.get<int64_t>();
  return std::nullopt;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return sum;
}

// Parses the "access" claim. Returns nullopt if it is not an array of
// {"type": string, "name": string, "actions": [string...]}.
std::optional<std::vector<Access>> ParseAccessClaim(const Json& j) {
  if (!j.is_array()) return std::nullopt;
  std::vector<Access> list;
  for (const Json& entry : j) {
    if (!entry.is_object()) return std::nullopt;
    auto type = entry.find("type");
    auto name = entry.find("name");
    auto actions = entry.find("actions");
    if (type == entry.end() || !type->is_string() || name == entry.end() || !name->is_string() ||
        actions == entry.end() || !actions->is_array()) {
      return std::nullopt;
    }
    Access access{type->get<std::string>(), name->get<std::string>(), {}};
    for (const Json& action : *actions) {
      if (!action.is_string()) return std::nullopt;
      access.actions.insert(action.get<std::string>());
    }
    list.push_back(std::move(access));
  }
  return list;
}

std::nullopt_t Fail(std::string* why, const char* reason) {
  if (why != nullptr) *why = reason;
  return std::nullopt;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += kBase64UrlAlphabet[v >> 18 & 63];
    out += kBase64UrlAlphabet[v >> 12 & 63];
    out += kBase64UrlAlphabet[v >> 6 & 63];
    out += kBase64UrlAlphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = byte(i) << 16;
    out += kBase64UrlAlphabet[v >> 18 & 63];
    out += kBase64UrlAlphabet[v >> 12 & 63];
  } else if (rest == 2) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
    out += kBase64UrlAlphabet[v >> 18 & 63];
    out += kBase64UrlAlphabet[v >> 12 & 63];
    out += kBase64UrlAlphabet[v >> 6 & 63];
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int bit_count = 0;
  for (char c : text) {
    int v = Base64UrlValue(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6 | static_cast<uint32_t>(v)) & 0xffffff;
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out += static_cast<char>(bits >> bit_count & 0xff);
    }
  }
  // Left-over bits (2 or 4) must be zero in the canonical encoding.
  if ((bits & ((1u << bit_count) - 1)) != 0) return std::nullopt;
  return out;
}

TokenSigner::TokenSigner(std::string secret, std::string issuer)
    : secret_(std::move(secret)), issuer_(std::move(issuer)) {
  if (secret_.size() < kMinSecretSize) {
    throw std::invalid_argument("token secret must be at least 32 bytes");
  }
}

std::string TokenSigner::Issue(const TokenClaims& claims) const {
  OrderedJson access = OrderedJson::array();
  for (const Access& a : claims.access) {
    OrderedJson actions = OrderedJson::array();
    for (const std::string& action : a.actions) actions.push_back(action);
    access.push_back({{"type", a.type}, {"name", a.name}, {"actions", std::move(actions)}});
  }
  OrderedJson payload = {
      {"iss", issuer_},
      {"sub", claims.subject},
      {"aud", claims.audience},
      {"exp", claims.expires_at},
      {"nbf", claims.not_before},
      {"iat", claims.issued_at},
      {"jti", claims.id.empty() ? Base64UrlEncode(RandomBytes(kRandomIdSize)) : claims.id},
      {"access", std::move(access)},
  };
  std::string signing_input =
      Base64UrlEncode(kHeaderJson) + "." +
      Base64UrlEncode(payload.dump(-1, ' ', false, Json::error_handler_t::replace));
  auto signature = HmacSha256(secret_, signing_input);
  if (!signature) throw std::runtime_error("HMAC-SHA256 failed");
  return signing_input + "." + Base64UrlEncode(*signature);
}

std::optional<TokenClaims> TokenSigner::Verify(std::string_view jwt,
                                               std::string_view expected_audience, int64_t now,
                                               std::string* why) const {
  if (jwt.size() > kMaxTokenSize) {
    if (why != nullptr) *why = kTokenTooLarge;
    return std::nullopt;
  }
  size_t dot1 = jwt.find('.');
  if (dot1 == std::string_view::npos) return Fail(why, "malformed token");
  size_t dot2 = jwt.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos) {
    return Fail(why, "malformed token");
  }

  Json header = DecodeJsonPart(jwt.substr(0, dot1));
  if (!header.is_object()) return Fail(why, "malformed token");
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) return Fail(why, "malformed token");
  if (alg->get_ref<const std::string&>() != "HS256") return Fail(why, "unsupported algorithm");
  if (header.contains("crit")) return Fail(why, "malformed token");

  auto signature = Base64UrlDecode(jwt.substr(dot2 + 1));
  if (!signature) return Fail(why, "malformed token");
  auto expected = HmacSha256(secret_, jwt.substr(0, dot2));
  if (!expected || signature->size() != expected->size() ||
      CRYPTO_memcmp(signature->data(), expected->data(), expected->size()) != 0) {
    return Fail(why, "bad signature");
  }

  Json payload = DecodeJsonPart(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload.is_object()) return Fail(why, "malformed token");
  TokenClaims claims;

  auto iss = payload.find("iss");
  if (iss != payload.end() && !iss->is_string()) return Fail(why, "malformed token");
  if (iss == payload.end() || iss->get_ref<const std::string&>() != issuer_) {
    return Fail(why, "wrong issuer");
  }
  claims.issuer = issuer_;

  auto aud = payload.find("aud");
  bool audience_matches = false;
  if (aud != payload.end()) {
    if (aud->is_string()) {
      audience_matches = aud->get_ref<const std::string&>() == expected_audience;
    } else if (aud->is_array()) {
      for (const Json& a : *aud) {
        if (!a.is_string()) return Fail(why, "malformed token");
        audience_matches = audience_matches || a.get_ref<const std::string&>() == expected_audience;
      }
    } else {
      return Fail(why, "malformed token");
    }
  }
  if (!audience_matches) return Fail(why, "wrong audience");
  claims.audience = std::string(expected_audience);

  auto exp = payload.find("exp");
  if (exp == payload.end()) return Fail(why, "malformed token");
  auto expires_at = AsInt64(*exp);
  if (!expires_at) return Fail(why, "malformed token");
  if (now >= SaturatingAdd(*expires_at, kTokenLeewaySeconds)) return Fail(why, "token expired");
  claims.expires_at = *expires_at;

  if (auto nbf = payload.find("nbf"); nbf != payload.end()) {
    auto not_before = AsInt64(*nbf);
    if (!not_before) return Fail(why, "malformed token");
    if (now < SaturatingAdd(*not_before, -kTokenLeewaySeconds)) {
      return Fail(why, "token not yet valid");
    }
    claims.not_before = *not_before;
  }
  if (auto iat = payload.find("iat"); iat != payload.end()) {
    auto issued_at = AsInt64(*iat);
    if (!issued_at) return Fail(why, "malformed token");
    claims.issued_at = *issued_at;
  }
  if (auto sub = payload.find("sub"); sub != payload.end()) {
    if (!sub->is_string()) return Fail(why, "malformed token");
    claims.subject = sub->get<std::string>();
  }
  if (auto jti = payload.find("jti"); jti != payload.end()) {
    if (!jti->is_string()) return Fail(why, "malformed token");
    claims.id = jti->get<std::string>();
  }
  if (auto access = payload.find("access"); access != payload.end()) {
    auto list = ParseAccessClaim(*access);
    if (!list) return Fail(why, "malformed token");
    claims.access = std::move(*list);
  }
  return claims;
}

bool Allows(const TokenClaims& claims, std::string_view type, std::string_view name,
            std::string_view action) {
  for (const Access& a : claims.access) {
    if (a.type != type || a.name != name) continue;
    if (a.actions.contains(kActionAll) || a.actions.contains(action)) {
      return true;
    }
  }
  return false;
}

std::string FormatRfc3339Utc(int64_t seconds) {
  int64_t days = seconds / 86400;
  int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    days -= 1;
  }
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t day_of_era = z - era * 146097;
  int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  int64_t mp = (5 * day_of_year + 2) / 153;
  int64_t day = day_of_year - (153 * mp + 2) / 5 + 1;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);

  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                static_cast<long long>(year), static_cast<long long>(month),
                static_cast<long long>(day), static_cast<long long>(second_of_day / 3600),
                static_cast<long long>(second_of_day / 60 % 60),
                static_cast<long long>(second_of_day % 60));
  return buf;
}

std::string TokenResponseJson(const std::string& token, int64_t expires_in, int64_t issued_at) {
  OrderedJson body = {
      {"token", token},
      {"access_token", token},
      {"expires_in", expires_in},
      {"issued_at", FormatRfc3339Utc(issued_at)},
  };
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string RandomSecret() {
  return Base64UrlEncode(RandomBytes(kMinSecretSize));
}

}  // namespace kura::auth
