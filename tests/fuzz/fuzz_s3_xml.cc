// libFuzzer target: the XML of S3's answers comes from the network (a store, or anything that
// answers in its place). Whatever the bytes, the readers of store/s3_xml.h must not crash, must
// keep within their limits (depth, element count), and must agree with each other: a typed
// reader succeeds only on a document the generic reader accepts, and only one of them does.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "store/s3_xml.h"

namespace {

using kura::store::XmlElement;
using kura::store::XmlLimits;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

// The depth of the tree and the number of elements in it.
void Measure(const XmlElement& e, int depth, int& max_depth, size_t& elements) {
  ++elements;
  if (depth > max_depth) max_depth = depth;
  for (const XmlElement& c : e.children) Measure(c, depth + 1, max_depth, elements);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const XmlLimits limits;
  auto root = kura::store::ParseXml(in, limits);
  if (root) {
    int depth = 0;
    size_t elements = 0;
    Measure(*root, 1, depth, elements);
    Check(depth <= limits.max_depth && elements <= limits.max_elements && size <= limits.max_bytes);
  }
  // Each typed reader parses with the default limits: it accepts nothing the generic one refuses.
  int accepted = 0;
  accepted += kura::store::ParseS3Error(in).has_value();
  accepted += kura::store::ParseListObjectsV2(in).has_value();
  accepted += kura::store::ParseListParts(in).has_value();
  accepted += kura::store::ParseInitiateMultipartUpload(in).has_value();
  accepted += kura::store::ParseResultEtag(in, "CompleteMultipartUploadResult").has_value();
  accepted += kura::store::ParseResultEtag(in, "CopyObjectResult").has_value();
  Check(accepted <= 1);  // a document has one root, and each reader wants another
  Check(accepted == 0 || root.has_value());
  if (auto decoded = kura::store::UrlDecode(in)) Check(decoded->size() <= size);
  kura::store::UnquoteEtag(in);
  return 0;
}
