#include "auth/token.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace kura::auth {
namespace {

constexpr const char* kSecret = "0123456789abcdef0123456789abcdef";  // 32 bytes
constexpr const char* kIssuer = "kura-token";
constexpr const char* kService = "registry.example";
constexpr int64_t kNow = 1700000000;

TokenClaims SampleClaims() {
  TokenClaims c;
  c.subject = "alice";
  c.audience = kService;
  c.issued_at = kNow;
  c.not_before = kNow;
  c.expires_at = kNow + 300;
  c.id = "id-1";
  c.access = {{"repository", "team/app", {"pull", "push"}}, {"registry", "catalog", {"*"}}};
  return c;
}

// Splits a JWT into its three parts.
std::vector<std::string> Parts(const std::string& jwt) {
  size_t a = jwt.find('.');
  size_t b = jwt.find('.', a + 1);
  return {jwt.substr(0, a), jwt.substr(a + 1, b - a - 1), jwt.substr(b + 1)};
}

// Builds a token from raw header and payload JSON, signed with HMAC-SHA256 under `secret`.
std::string SignedToken(const std::string& header, const std::string& payload,
                        const std::string& secret = kSecret) {
  std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &n);
  return input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), n));
}

std::string Payload(const nlohmann::json& overrides) {
  nlohmann::json p = {{"iss", kIssuer}, {"sub", "alice"}, {"aud", kService}, {"exp", kNow + 300},
                      {"nbf", kNow},    {"iat", kNow},    {"jti", "x"}};
  for (auto& [k, v] : overrides.items()) {
    if (v.is_null()) {
      p.erase(k);
    } else {
      p[k] = v;
    }
  }
  return p.dump();
}

constexpr const char* kHs256 = R"({"alg":"HS256","typ":"JWT"})";

TEST(TokenTest, RoundTrip) {
  TokenSigner signer(kSecret, kIssuer);
  TokenClaims claims = SampleClaims();
  claims.issuer = "ignored";
  std::string jwt = signer.Issue(claims);
  std::string why;
  auto got = signer.Verify(jwt, kService, kNow, &why);
  ASSERT_TRUE(got) << why;
  claims.issuer = kIssuer;
  EXPECT_EQ(*got, claims);
  EXPECT_TRUE(why.empty());
}

TEST(TokenTest, HeaderAndClaimsHaveTheDockerShape) {
  TokenSigner signer(kSecret, kIssuer);
  auto parts = Parts(signer.Issue(SampleClaims()));
  EXPECT_EQ(Base64UrlDecode(parts[0]), kHs256);
  auto payload = nlohmann::json::parse(*Base64UrlDecode(parts[1]));
  EXPECT_EQ(payload["iss"], kIssuer);
  EXPECT_EQ(payload["sub"], "alice");
  EXPECT_EQ(payload["aud"], kService);
  EXPECT_EQ(payload["exp"], kNow + 300);
  EXPECT_EQ(payload["nbf"], kNow);
  EXPECT_EQ(payload["iat"], kNow);
  EXPECT_EQ(payload["jti"], "id-1");
  EXPECT_EQ(payload["access"], nlohmann::json::parse(R"([
      {"type":"repository","name":"team/app","actions":["pull","push"]},
      {"type":"registry","name":"catalog","actions":["*"]}])"));
  EXPECT_EQ(Base64UrlDecode(parts[2])->size(), 32u);
}

TEST(TokenTest, GeneratesRandomIdWhenEmpty) {
  TokenSigner signer(kSecret, kIssuer);
  TokenClaims claims = SampleClaims();
  claims.id.clear();
  auto a = signer.Verify(signer.Issue(claims), kService, kNow, nullptr);
  auto b = signer.Verify(signer.Issue(claims), kService, kNow, nullptr);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->id.size(), 22u);  // 16 bytes
  EXPECT_NE(a->id, b->id);
}

TEST(TokenTest, RefusesShortSecret) {
  EXPECT_THROW(TokenSigner(std::string(31, 'x'), kIssuer), std::invalid_argument);
  EXPECT_NO_THROW(TokenSigner(std::string(32, 'x'), kIssuer));
}

TEST(TokenTest, RefusesTamperedPayload) {
  TokenSigner signer(kSecret, kIssuer);
  auto parts = Parts(signer.Issue(SampleClaims()));
  auto payload = nlohmann::json::parse(*Base64UrlDecode(parts[1]));
  payload["access"][0]["actions"].push_back("delete");
  std::string forged = parts[0] + "." + Base64UrlEncode(payload.dump()) + "." + parts[2];
  std::string why;
  EXPECT_FALSE(signer.Verify(forged, kService, kNow, &why));
  EXPECT_EQ(why, "bad signature");
}

TEST(TokenTest, RefusesTamperedSignature) {
  TokenSigner signer(kSecret, kIssuer);
  std::string jwt = signer.Issue(SampleClaims());
  std::string why;
  std::string flipped = jwt;
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(signer.Verify(flipped, kService, kNow, &why));
  EXPECT_EQ(why, "bad signature");
  // Truncated and empty signatures.
  auto parts = Parts(jwt);
  std::string truncated =
      parts[0] + "." + parts[1] + "." + Base64UrlEncode(Base64UrlDecode(parts[2])->substr(0, 31));
  EXPECT_FALSE(signer.Verify(truncated, kService, kNow, &why));
  EXPECT_EQ(why, "bad signature");
  EXPECT_FALSE(signer.Verify(jwt.substr(0, jwt.rfind('.') + 1), kService, kNow, &why));
  EXPECT_EQ(why, "bad signature");
  // Same token under another secret.
  TokenSigner other(std::string(32, 'k'), kIssuer);
  EXPECT_FALSE(other.Verify(jwt, kService, kNow, &why));
  EXPECT_EQ(why, "bad signature");
}

TEST(TokenTest, RefusesNonCanonicalSignatureEncoding) {
  TokenSigner signer(kSecret, kIssuer);
  std::string jwt = signer.Issue(SampleClaims());
  // 32 bytes -> 43 characters; the last carries 2 unused bits, which must be zero. Setting
  // one gives another spelling of the same signature bytes.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string twin = jwt;
  twin.back() = alphabet[alphabet.find(twin.back()) ^ 1];
  std::string why;
  EXPECT_FALSE(signer.Verify(twin, kService, kNow, &why));
  EXPECT_EQ(why, "malformed token");
}

TEST(TokenTest, RefusesAlgNoneAndOthers) {
  TokenSigner signer(kSecret, kIssuer);
  std::string payload = Base64UrlEncode(Payload({}));
  std::string why;
  for (const char* header : {R"({"alg":"none","typ":"JWT"})", R"({"alg":"None"})",
                             R"({"alg":"HS512"})", R"({"alg":"RS256"})", R"({"alg":"hs256"})"}) {
    std::string h = Base64UrlEncode(header);
    EXPECT_FALSE(signer.Verify(h + "." + payload + ".", kService, kNow, &why)) << header;
    EXPECT_EQ(why, "unsupported algorithm") << header;
    // Even correctly HMAC-signed.
    EXPECT_FALSE(signer.Verify(SignedToken(header, Payload({})), kService, kNow, &why));
    EXPECT_EQ(why, "unsupported algorithm") << header;
  }
  for (const char* header : {R"({"typ":"JWT"})", R"({"alg":null})", R"({"alg":256})", "[]",
                             R"({"alg":"HS256","crit":["exp"]})"}) {
    EXPECT_FALSE(signer.Verify(SignedToken(header, Payload({})), kService, kNow, &why));
    EXPECT_EQ(why, "malformed token") << header;
  }
}

TEST(TokenTest, AcceptsHandMadeTokenWithMinimalClaims) {
  TokenSigner signer(kSecret, kIssuer);
  std::string jwt = SignedToken(R"({"alg":"HS256"})", Payload({{"sub", nullptr},
                                                               {"nbf", nullptr},
                                                               {"iat", nullptr},
                                                               {"jti", nullptr},
                                                               {"aud", {"other", kService}}}));
  auto got = signer.Verify(jwt, kService, kNow, nullptr);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->subject, "");
  EXPECT_EQ(got->audience, kService);
  EXPECT_TRUE(got->access.empty());
}

TEST(TokenTest, RefusesWrongAudienceAndIssuer) {
  TokenSigner signer(kSecret, kIssuer);
  std::string jwt = signer.Issue(SampleClaims());
  std::string why;
  EXPECT_FALSE(signer.Verify(jwt, "other.example", kNow, &why));
  EXPECT_EQ(why, "wrong audience");
  TokenSigner other_issuer(kSecret, "someone-else");
  EXPECT_FALSE(other_issuer.Verify(jwt, kService, kNow, &why));
  EXPECT_EQ(why, "wrong issuer");

  EXPECT_FALSE(
      signer.Verify(SignedToken(kHs256, Payload({{"aud", nullptr}})), kService, kNow, &why));
  EXPECT_EQ(why, "wrong audience");
  EXPECT_FALSE(signer.Verify(SignedToken(kHs256, Payload({{"aud", nlohmann::json::array()}})),
                             kService, kNow, &why));
  EXPECT_EQ(why, "wrong audience");
  EXPECT_FALSE(
      signer.Verify(SignedToken(kHs256, Payload({{"iss", nullptr}})), kService, kNow, &why));
  EXPECT_EQ(why, "wrong issuer");
}

TEST(TokenTest, ChecksTimesWithLeeway) {
  TokenSigner signer(kSecret, kIssuer);
  TokenClaims claims = SampleClaims();  // valid [kNow, kNow + 300)
  std::string jwt = signer.Issue(claims);
  std::string why;
  EXPECT_TRUE(signer.Verify(jwt, kService, kNow + 300, &why));  // within leeway
  EXPECT_TRUE(signer.Verify(jwt, kService, kNow + 359, &why));  // last second
  EXPECT_FALSE(signer.Verify(jwt, kService, kNow + 360, &why));
  EXPECT_EQ(why, "token expired");
  EXPECT_TRUE(signer.Verify(jwt, kService, kNow - 60, &why));  // clock behind by 60 s
  EXPECT_FALSE(signer.Verify(jwt, kService, kNow - 61, &why));
  EXPECT_EQ(why, "token not yet valid");
}

TEST(TokenTest, ExtremeTimesDoNotOverflow) {
  TokenSigner signer(kSecret, kIssuer);
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  std::string why;
  EXPECT_TRUE(signer.Verify(SignedToken(kHs256, Payload({{"exp", kMax}, {"nbf", kMin}})), kService,
                            kNow, &why));
  EXPECT_FALSE(signer.Verify(SignedToken(kHs256, Payload({{"exp", kMin}})), kService, kNow, &why));
  EXPECT_EQ(why, "token expired");
  EXPECT_FALSE(signer.Verify(SignedToken(kHs256, Payload({{"nbf", kMax}})), kService, kNow, &why));
  EXPECT_EQ(why, "token not yet valid");
  EXPECT_FALSE(signer.Verify(SignedToken(kHs256, Payload({{"exp", 18446744073709551615ull}})),
                             kService, kNow, &why));
  EXPECT_EQ(why, "malformed token");
}

TEST(TokenTest, RefusesTokensOverTheSizeLimitFirst) {
  // A token over kMaxTokenSize is refused for its size alone, even when it is otherwise good
  // (signed with the right key): no decoding, no HMAC.
  TokenSigner signer(kSecret, kIssuer);
  TokenClaims claims = SampleClaims();
  for (int i = 0; i < 200; ++i) {
    claims.access.push_back({"repository", "team/repository-" + std::to_string(i), {"pull"}});
  }
  std::string big = signer.Issue(claims);
  ASSERT_GT(big.size(), kMaxTokenSize);
  std::string why;
  EXPECT_FALSE(signer.Verify(big, kService, kNow, &why));
  EXPECT_EQ(why, kTokenTooLarge);
  EXPECT_FALSE(signer.Verify(std::string(kMaxTokenSize + 1, 'A'), kService, kNow, &why));
  EXPECT_EQ(why, "token larger than 8 KiB");
  // At the limit, a token is read as usual.
  EXPECT_FALSE(signer.Verify(std::string(kMaxTokenSize, 'A'), kService, kNow, &why));
  EXPECT_EQ(why, "malformed token");
  claims.access.resize(SampleClaims().access.size() + 20);
  std::string fits = signer.Issue(claims);
  ASSERT_LE(fits.size(), kMaxTokenSize);
  EXPECT_TRUE(signer.Verify(fits, kService, kNow, &why)) << why;
}

TEST(TokenTest, RefusesMalformedPieces) {
  TokenSigner signer(kSecret, kIssuer);
  std::string jwt = signer.Issue(SampleClaims());
  auto p = Parts(jwt);
  std::string why;
  for (const std::string& bad : {
           std::string(),
           std::string("."),
           std::string(".."),
           std::string("..."),
           std::string("abc"),
           p[0] + "." + p[1],                // two parts
           jwt + ".",                        // four parts
           p[0] + "=." + p[1] + "." + p[2],  // padding
           p[0] + "." + p[1] + "." + p[2] + "=",
           "*" + p[0] + "." + p[1] + "." + p[2],  // not base64url
           p[0] + "." + p[1] + "." + p[2].substr(1) + "+",
           Base64UrlEncode("not json") + "." + p[1] + "." + p[2],
       }) {
    EXPECT_FALSE(signer.Verify(bad, kService, kNow, &why)) << bad;
    EXPECT_EQ(why, "malformed token") << bad;
  }
  // Signed, but the claims are malformed.
  for (const nlohmann::json& overrides : {
           nlohmann::json{{"iss", 5}},
           nlohmann::json{{"aud", 5}},
           nlohmann::json{{"aud", {kService, 5}}},
           nlohmann::json{{"exp", nullptr}},
           nlohmann::json{{"exp", "tomorrow"}},
           nlohmann::json{{"exp", 1.7e9}},
           nlohmann::json{{"nbf", "now"}},
           nlohmann::json{{"iat", true}},
           nlohmann::json{{"sub", 1}},
           nlohmann::json{{"jti", nlohmann::json::object()}},
           nlohmann::json{{"access", "all"}},
           nlohmann::json{{"access", {1}}},
           nlohmann::json::parse(R"({"access":[{"type":"repository","name":"a"}]})"),
           nlohmann::json::parse(
               R"({"access":[{"type":"repository","name":"a","actions":"pull"}]})"),
           nlohmann::json::parse(R"({"access":[{"type":"repository","name":"a","actions":[1]}]})"),
           nlohmann::json::parse(R"({"access":[{"type":1,"name":"a","actions":[]}]})"),
       }) {
    EXPECT_FALSE(signer.Verify(SignedToken(kHs256, Payload(overrides)), kService, kNow, &why))
        << overrides.dump();
    EXPECT_EQ(why, "malformed token") << overrides.dump();
  }
  EXPECT_FALSE(signer.Verify(SignedToken(kHs256, "[1,2]"), kService, kNow, &why));
  EXPECT_EQ(why, "malformed token");
  EXPECT_FALSE(signer.Verify(SignedToken(kHs256, "{\"iss\":"), kService, kNow, &why));
  EXPECT_EQ(why, "malformed token");
}

TEST(TokenTest, AllowsByTypeNameAndAction) {
  TokenClaims c = SampleClaims();
  c.access.push_back({"repository", "admin/all", {"*"}});
  EXPECT_TRUE(Allows(c, "repository", "team/app", "pull"));
  EXPECT_TRUE(Allows(c, "repository", "team/app", "push"));
  EXPECT_FALSE(Allows(c, "repository", "team/app", "delete"));
  EXPECT_FALSE(Allows(c, "repository", "team/app2", "pull"));
  EXPECT_FALSE(Allows(c, "registry", "team/app", "pull"));
  EXPECT_TRUE(Allows(c, "registry", "catalog", "*"));
  EXPECT_TRUE(Allows(c, "registry", "catalog", "pull"));
  EXPECT_TRUE(Allows(c, "repository", "admin/all", "delete"));
  EXPECT_FALSE(Allows(c, "repository", "*", "pull"));  // '*' is no name pattern
  EXPECT_FALSE(Allows(TokenClaims{}, "repository", "team/app", "pull"));
}

TEST(TokenTest, FormatsTokenResponse) {
  EXPECT_EQ(TokenResponseJson("a.b.c", 300, 1700000000),
            R"({"token":"a.b.c","access_token":"a.b.c","expires_in":300,)"
            R"("issued_at":"2023-11-14T22:13:20Z"})");
}

TEST(TokenTest, FormatsRfc3339) {
  EXPECT_EQ(FormatRfc3339Utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Utc(951782400), "2000-02-29T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Utc(4107542399), "2100-02-28T23:59:59Z");
  EXPECT_EQ(FormatRfc3339Utc(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339Utc(253402300799), "9999-12-31T23:59:59Z");
  EXPECT_FALSE(FormatRfc3339Utc(std::numeric_limits<int64_t>::min()).empty());
  EXPECT_FALSE(FormatRfc3339Utc(std::numeric_limits<int64_t>::max()).empty());
}

TEST(TokenTest, RandomSecretIs32Bytes) {
  std::string a = RandomSecret();
  EXPECT_EQ(a.size(), 43u);
  EXPECT_EQ(Base64UrlDecode(a)->size(), 32u);
  EXPECT_NE(a, RandomSecret());
  EXPECT_NO_THROW(TokenSigner(a, kIssuer));
}

TEST(TokenTest, Base64Url) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlDecode("-_8"), "\xfb\xff");
  EXPECT_EQ(Base64UrlDecode("Zm9vYg"), "foob");
  EXPECT_EQ(Base64UrlDecode(""), "");
  EXPECT_FALSE(Base64UrlDecode("Zg=="));   // padding
  EXPECT_FALSE(Base64UrlDecode("Zm9vY"));  // 4k+1
  EXPECT_FALSE(Base64UrlDecode("Zh"));     // non-zero unused bits
  EXPECT_FALSE(Base64UrlDecode("+/8"));    // plain base64 alphabet
  EXPECT_FALSE(Base64UrlDecode("Zm 9v"));
  for (int n = 0; n < 40; ++n) {
    std::string bytes;
    for (int i = 0; i < n; ++i) bytes += static_cast<char>(i * 37 + n);
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(bytes)), bytes);
  }
}

}  // namespace
}  // namespace kura::auth
