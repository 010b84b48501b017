// The bounded XML reading of S3's answers (store/s3_xml.h): real bodies from radosgw and AWS, and
// hostile ones (huge, deep, truncated, entity tricks). Needs no gateway.
#include "store/s3_xml.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace kura::store {
namespace {

// A ListObjectsV2 page as radosgw 16 sends it (encoding-type=url), one line.
const char kRadosgwListing[] =
    R"(<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><EncodingType>url</EncodingType><Name>tb2</Name><Prefix></Prefix><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><Contents><Key>a%3Ab%2Bc%20d%2Fe~~!</Key><LastModified>2026-12-02T00:21:08.222Z</LastModified><ETag>&quot;b1946ac92492d2347c6235b4d2611184&quot;</ETag><Size>6</Size><StorageClass>STANDARD</StorageClass><Type>Normal</Type></Contents><Contents><Key>utf%C3%A9+x</Key><ETag>"00"</ETag><Size>18446744073709551615</Size></Contents><KeyCount>2</KeyCount><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>)";

TEST(S3XmlTest, ReadsAnErrorBody) {
  auto error = ParseS3Error(
      R"(<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The key &lt;x&gt; &amp; more</Message><BucketName>b</BucketName><RequestId>tx0001</RequestId><HostId>1009-default-default</HostId></Error>)");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, "NoSuchKey");
  EXPECT_EQ(error->message, "The key <x> & more");
  EXPECT_EQ(error->request_id, "tx0001");
  EXPECT_FALSE(ParseS3Error(""));
  EXPECT_FALSE(ParseS3Error("<html><body>502 Bad Gateway</body></html>"));
  EXPECT_FALSE(ParseS3Error("<ListBucketResult/>"));
}

TEST(S3XmlTest, ReadsAUrlEncodedListingPage) {
  auto page = ParseListObjectsV2(kRadosgwListing);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "a:b+c d/e~~!");
  EXPECT_EQ(page->objects[0].size, 6u);
  EXPECT_EQ(page->objects[0].etag, "b1946ac92492d2347c6235b4d2611184");
  EXPECT_EQ(page->objects[1].key, "utf\xC3\xA9 x");  // AWS encodes a space as '+'
  EXPECT_EQ(page->objects[1].size, UINT64_MAX);
  EXPECT_EQ(page->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3XmlTest, RefusesListingsItCannotTrust) {
  // Truncated without a token: the caller would loop on page one forever.
  EXPECT_FALSE(
      ParseListObjectsV2("<ListBucketResult><IsTruncated>true</IsTruncated>"
                         "</ListBucketResult>"));
  EXPECT_FALSE(
      ParseListObjectsV2("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size>"
                         "</Contents></ListBucketResult>"));
  EXPECT_FALSE(
      ParseListObjectsV2("<ListBucketResult><Contents><Key>k</Key><Size>18446744073709551616"
                         "</Size></Contents></ListBucketResult>"));
  EXPECT_FALSE(
      ParseListObjectsV2("<ListBucketResult><EncodingType>url</EncodingType><Contents>"
                         "<Key>%G0</Key><Size>1</Size></Contents></ListBucketResult>"));
  EXPECT_FALSE(
      ParseListObjectsV2("<ListBucketResult><Contents><Size>1</Size></Contents>"
                         "</ListBucketResult>"));
  auto last = ParseListObjectsV2(
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "</ListBucketResult>");
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->objects.empty());
  EXPECT_EQ(last->next_continuation_token, "");
}

TEST(S3XmlTest, ReadsPartsAndUploadResults) {
  auto page = ParseListParts(
      R"(<?xml version="1.0" encoding="UTF-8"?><ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key><UploadId>2~x</UploadId><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker><MaxParts>2</MaxParts><IsTruncated>true</IsTruncated><Part><LastModified>2026-12-02T00:21:08.222Z</LastModified><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag><Size>5242880</Size></Part><Part><PartNumber>2</PartNumber><ETag>"bb"</ETag><Size>7</Size></Part></ListPartsResult>)");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->parts.size(), 2u);
  EXPECT_EQ(page->parts[0].number, 1);
  EXPECT_EQ(page->parts[0].etag, "aa");
  EXPECT_EQ(page->parts[0].size, 5242880u);
  EXPECT_EQ(page->parts[1].etag, "bb");
  EXPECT_EQ(page->next_part_number_marker, 2);
  EXPECT_FALSE(
      ParseListParts("<ListPartsResult><Part><PartNumber>10001</PartNumber><Size>1</Size>"
                     "</Part></ListPartsResult>"));
  EXPECT_FALSE(
      ParseListParts("<ListPartsResult><IsTruncated>true</IsTruncated></ListPartsResult>"));

  EXPECT_EQ(ParseInitiateMultipartUpload(
                "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>"
                "2~GJj2FCzjyBENdLxVsoFgO7-S3GH6LSC</UploadId></InitiateMultipartUploadResult>"),
            "2~GJj2FCzjyBENdLxVsoFgO7-S3GH6LSC");
  EXPECT_FALSE(
      ParseInitiateMultipartUpload("<InitiateMultipartUploadResult><UploadId> "
                                   "</UploadId></InitiateMultipartUploadResult>"));
  EXPECT_EQ(ParseResultEtag("<CompleteMultipartUploadResult><ETag>&quot;ab-3&quot;</ETag>"
                            "</CompleteMultipartUploadResult>",
                            "CompleteMultipartUploadResult"),
            "ab-3");
  // A 200 whose body is an error is not a result.
  EXPECT_FALSE(ParseResultEtag("<Error><Code>InternalError</Code></Error>",
                               "CompleteMultipartUploadResult"));
}

TEST(S3XmlTest, SkipsPrologCommentsAttributesAndKeepsCdata) {
  auto root = ParseXml(
      "\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- a > comment -->\n<s3:R a='x>y' b=\"<>\">"
      "<A/><B>one<![CDATA[<two>&amp;]]>&#x41;&#66;</B><!-- c --></s3:R>\n<?pi after?>\n");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->name, "R");
  ASSERT_EQ(root->children.size(), 2u);
  EXPECT_EQ(root->children[0].name, "A");
  EXPECT_EQ(root->ChildText("B"), "one<two>&amp;AB");
  EXPECT_EQ(root->ChildText("missing"), "");
}

TEST(S3XmlTest, RefusesMalformedDocuments) {
  for (const char* bad : {
           "",
           "   ",
           "text",
           "<a>",
           "<a></b>",
           "<a><b></a></b>",
           "<a></a><b></b>",
           "<a></a>x",
           "x<a></a>",
           "<a>&unknown;</a>",
           "<a>&#0;</a>",
           "<a>&#xD800;</a>",
           "<a>&#x110000;</a>",
           "<a>&#;</a>",
           "<a>&#x;</a>",
           "<a>&amp</a>",
           "<a b='1></a>",
           "<a/ >",
           "< a></a>",
           "<a><![CDATA[x</a>",
           "<a><!-- x</a>",
           "<?xml",
           "</a>",
           "<a></a ",
           "<>",
           "<a\"b></a\"b>",
           "<![CDATA[x]]><a/>",
       }) {
    EXPECT_FALSE(ParseXml(bad)) << bad;
  }
}

TEST(S3XmlTest, RefusesADoctypeAndItsEntities) {
  std::string laughs =
      "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 "
      "\"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><Error><Code>&lol2;</Code></Error>";
  EXPECT_FALSE(ParseXml(laughs));
  EXPECT_FALSE(ParseXml("<!DOCTYPE x SYSTEM \"file:///etc/passwd\"><a>&xxe;</a>"));
}

TEST(S3XmlTest, RefusesHugeBodiesWithoutReadingThem) {
  std::string huge =
      "<ListBucketResult>" + std::string(XmlLimits{}.max_bytes, ' ') + "</ListBucketResult>";
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(ParseXml(huge));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  XmlLimits small;
  small.max_bytes = 10;
  EXPECT_TRUE(ParseXml("<a>12</a>", small));
  EXPECT_FALSE(ParseXml("<a>123</a> ", small));
}

TEST(S3XmlTest, RefusesDeepNestingAndTooManyElements) {
  const int depth = XmlLimits{}.max_depth;
  auto nested = [](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += "<a>";
    for (int i = 0; i < n; ++i) s += "</a>";
    return s;
  };
  EXPECT_TRUE(ParseXml(nested(depth)));
  EXPECT_FALSE(ParseXml(nested(depth + 1)));
  // A million levels: refused at the limit, not after a million allocations.
  std::string deep(3 * 1000000, ' ');
  for (size_t i = 0; i < deep.size(); i += 3) deep.replace(i, 3, "<a>");
  XmlLimits roomy;
  roomy.max_bytes = deep.size();
  EXPECT_FALSE(ParseXml(deep, roomy));

  std::string wide = "<r>";
  for (size_t i = 0; i < XmlLimits{}.max_elements; ++i) wide += "<b/>";
  wide += "</r>";
  EXPECT_FALSE(ParseXml(wide));  // the root counts too
  XmlLimits more;
  more.max_elements = XmlLimits{}.max_elements + 1;
  EXPECT_TRUE(ParseXml(wide, more));
}

TEST(S3XmlTest, EveryTruncationOfAListingIsRefused) {
  std::string listing = kRadosgwListing;
  ASSERT_TRUE(ParseListObjectsV2(listing));
  for (size_t n = 0; n < listing.size(); ++n) {
    EXPECT_FALSE(ParseListObjectsV2(listing.substr(0, n))) << n;
  }
}

TEST(S3XmlTest, UrlDecodesKeys) {
  EXPECT_EQ(UrlDecode("a%2Fb+c%2bd%3a"), "a/b c+d:");
  EXPECT_EQ(UrlDecode(""), "");
  EXPECT_EQ(UrlDecode("%00"), std::string(1, '\0'));
  for (const char* bad : {"%", "%4", "%G0", "%0G", "a%-1", "%+1"}) {
    EXPECT_FALSE(UrlDecode(bad)) << bad;
  }
  EXPECT_EQ(UnquoteEtag(" \"abc\" "), "abc");
  EXPECT_EQ(UnquoteEtag("\""), "\"");
}

}  // namespace
}  // namespace kura::store
