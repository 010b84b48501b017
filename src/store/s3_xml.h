// The XML bodies of S3's answers (errors, listings, multipart uploads), read with hard bounds.
//
// S3 answers in small, flat XML documents. This is not a general XML parser: it keeps elements and
// their text, skips the prolog, comments, processing instructions and attributes (xmlns), decodes
// the five predefined entities and character references, and refuses what an S3 server never
// sends and an attacker might: a DOCTYPE (entity definitions), bodies over a byte cap, nesting
// deeper than a few levels, too many elements, mismatched or unclosed tags. Every function here
// is pure and never throws on any input (only std::bad_alloc within the caps).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kura::store {

struct XmlLimits {
  size_t max_bytes = 1 << 20;  // a listing of 1,000 keys of 1,024 bytes fits
  int max_depth = 8;           // S3's deepest answer (ListObjectsV2 > Contents > Owner > ID) is 4
  size_t max_elements = 64 * 1024;
};

// An element: its local name (a namespace prefix such as "s3:" dropped), the text directly inside
// it (entities decoded, CDATA as is, the text around children concatenated) and its children.
struct XmlElement {
  std::string name;
  std::string text;
  std::vector<XmlElement> children;

  // The first child named `child`, or nullptr.
  const XmlElement* Child(std::string_view child) const;
  // The text of the first child named `child`, or "" when there is none.
  std::string_view ChildText(std::string_view child) const;
};

// The document's root element, or nullopt when `body` is not a well-formed document within
// `limits` (see above for what is checked).
std::optional<XmlElement> ParseXml(std::string_view body, const XmlLimits& limits = {});

// The parts of an S3 <Error> body that callers act on.
struct S3ErrorBody {
  std::string code;  // "NoSuchKey", "SignatureDoesNotMatch", ...
  std::string message;
  std::string request_id;
};

// An <Error> document's fields; nullopt when the body is not one (other root, not XML, empty).
std::optional<S3ErrorBody> ParseS3Error(std::string_view body);

// An object of a listing. `key` is the full key as stored (URL-decoded when the listing was
// URL-encoded); S3Client hands it back relative to its prefix.
struct S3Object {
  std::string key;
  uint64_t size = 0;
  std::string etag;           // as sent, quotes removed
  std::string last_modified;  // ISO 8601, as sent ("2026-12-02T00:41:07.000Z")
};

// One page of ListObjectsV2.
struct S3ObjectPage {
  std::vector<S3Object> objects;
  // The token for the next page; empty on the last page.
  std::string next_continuation_token;
};

// A <ListBucketResult> of ListObjectsV2; nullopt when malformed, when a size is not a number, or
// when it says it is truncated but gives no continuation token. Keys are decoded when
// <EncodingType> is "url" ('+' and %XX, as S3 and radosgw encode them).
std::optional<S3ObjectPage> ParseListObjectsV2(std::string_view body);

// A part of a multipart upload, as ListParts describes it.
struct S3Part {
  int number = 0;    // 1..10,000
  std::string etag;  // quotes removed
  uint64_t size = 0;
};

// One page of ListParts.
struct S3PartPage {
  std::vector<S3Part> parts;
  // The marker for the next page, 0 on the last page.
  int next_part_number_marker = 0;
};

// A <ListPartsResult>; nullopt when malformed, when a number is out of range, or when it says it
// is truncated but gives no next marker.
std::optional<S3PartPage> ParseListParts(std::string_view body);

// The <UploadId> of an <InitiateMultipartUploadResult>; nullopt when absent or empty.
std::optional<std::string> ParseInitiateMultipartUpload(std::string_view body);

// The ETag (quotes removed; empty when the element is, as radosgw 16 leaves it in a completion)
// of a <CompleteMultipartUploadResult> or a <CopyObjectResult>. S3 can answer those with 200 and
// an <Error> body, which gives nullopt here, as does anything else.
std::optional<std::string> ParseResultEtag(std::string_view body, std::string_view root);

// "%XX" and '+' decoded, as in the keys of a URL-encoded listing; nullopt for a bad escape.
std::optional<std::string> UrlDecode(std::string_view text);

// `etag` without the double quotes S3 puts around it.
std::string UnquoteEtag(std::string_view etag);

}  // namespace kura::store
