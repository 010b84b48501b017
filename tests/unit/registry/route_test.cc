#include <gtest/gtest.h>

#include "registry/registry.h"

namespace kura::registry {
namespace {

using Kind = Route::Kind;

TEST(RouteTest, RecognisesEveryRoute) {
  EXPECT_EQ(ParseRoute("/v2/").kind, Kind::kBase);
  EXPECT_EQ(ParseRoute("/v2").kind, Kind::kBase);
  EXPECT_EQ(ParseRoute("/v2/_catalog").kind, Kind::kCatalog);
  auto tags = ParseRoute("/v2/a/b/tags/list");
  EXPECT_EQ(tags.kind, Kind::kTags);
  EXPECT_EQ(tags.name, "a/b");
  auto m = ParseRoute("/v2/library/ubuntu/manifests/latest");
  EXPECT_EQ(m.kind, Kind::kManifest);
  EXPECT_EQ(m.name, "library/ubuntu");
  EXPECT_EQ(m.reference, "latest");
  auto start = ParseRoute("/v2/x/blobs/uploads/");
  EXPECT_EQ(start.kind, Kind::kUploadStart);
  EXPECT_EQ(start.name, "x");
  auto up = ParseRoute("/v2/x/y/blobs/uploads/1234-abcd");
  EXPECT_EQ(up.kind, Kind::kUpload);
  EXPECT_EQ(up.name, "x/y");
  EXPECT_EQ(up.reference, "1234-abcd");
  auto blob = ParseRoute("/v2/x/blobs/sha256:abc");
  EXPECT_EQ(blob.kind, Kind::kBlob);
  EXPECT_EQ(blob.reference, "sha256:abc");
  auto refs = ParseRoute("/v2/x/referrers/sha256:abc");
  EXPECT_EQ(refs.kind, Kind::kReferrers);
}

TEST(RouteTest, NamesThatLookLikeRouteWords) {
  auto m = ParseRoute("/v2/blobs/manifests/manifests/v1");
  EXPECT_EQ(m.kind, Kind::kManifest);
  EXPECT_EQ(m.name, "blobs/manifests");
  auto b = ParseRoute("/v2/tags/blobs/sha256:1");
  EXPECT_EQ(b.kind, Kind::kBlob);
  EXPECT_EQ(b.name, "tags");
}

TEST(RouteTest, Unknown) {
  EXPECT_EQ(ParseRoute("/").kind, Kind::kUnknown);
  EXPECT_EQ(ParseRoute("/v1/x").kind, Kind::kUnknown);
  EXPECT_EQ(ParseRoute("/v2/x/manifests/").kind, Kind::kUnknown);
  EXPECT_EQ(ParseRoute("/v2/x/other/y").kind, Kind::kUnknown);
  // Found by fuzz_request_parts: a route word with no repository name before it.
  EXPECT_EQ(ParseRoute("/v2//blobs/uploads/").kind, Kind::kUnknown);
  EXPECT_EQ(ParseRoute("/v2//tags/list").kind, Kind::kUnknown);
  EXPECT_EQ(ParseRoute("/v2//manifests/x").kind, Kind::kUnknown);
}

TEST(PercentDecodeTest, Decodes) {
  EXPECT_EQ(PercentDecode("sha256%3Aab").value(), "sha256:ab");
  EXPECT_EQ(PercentDecode("a+b", true).value(), "a b");
  EXPECT_EQ(PercentDecode("a+b").value(), "a+b");
  EXPECT_FALSE(PercentDecode("%zz"));
  EXPECT_FALSE(PercentDecode("%4"));
  EXPECT_FALSE(PercentDecode("abc%"));
}

TEST(PercentEncodeTest, KeepsUnreservedAndOptionallySlash) {
  EXPECT_EQ(PercentEncode("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(PercentEncode("a/b c:d"), "a%2Fb%20c%3Ad");
  EXPECT_EQ(PercentEncode("a/b c", /*keep_slash=*/true), "a/b%20c");
  EXPECT_EQ(PercentDecode(PercentEncode("x+y/\xff", false)).value(), "x+y/\xff");
}

TEST(QueryTest, FirstAndAllValues) {
  struct NoBody : BodyReader {
    asio::awaitable<size_t> Read(char*, size_t) override { co_return 0; }
    std::optional<uint64_t> ContentLength() const override { return 0; }
  } body;
  http::request_header<> header;
  Request req{header, "/token", "scope=a%3Ab&n=1&scope=c+d&scope=%zz&flag", body, {}, {}};
  EXPECT_EQ(req.Query("scope").value(), "a:b");
  EXPECT_EQ(req.QueryAll("scope"), (std::vector<std::string>{"a:b", "c d"}));  // bad escape skipped
  EXPECT_EQ(req.Query("flag").value(), "");
  EXPECT_FALSE(req.Query("missing"));
  EXPECT_TRUE(req.QueryAll("missing").empty());
}

}  // namespace
}  // namespace kura::registry
