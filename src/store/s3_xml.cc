#include "store/s3_xml.h"

#include <charconv>
#include <utility>

namespace kura::store {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// The characters that end a tag name.
bool EndsName(char c) {
  return IsSpace(c) || c == '/' || c == '>';
}

bool ValidNameChar(char c) {
  return c != '<' && c != '&' && c != '"' && c != '\'' && c != '=' && c != '\0';
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Appends `raw` (text between tags) to `out` with its entity and character references decoded.
// False for an unknown entity, a malformed reference or a code point XML does not allow.
bool AppendDecodedText(std::string_view raw, std::string& out) {
  while (!raw.empty()) {
    size_t amp = raw.find('&');
    out.append(raw.substr(0, amp));
    if (amp == std::string_view::npos) return true;
    raw.remove_prefix(amp + 1);
    size_t semi = raw.find(';');
    if (semi == std::string_view::npos || semi > 10) return false;
    std::string_view ref = raw.substr(0, semi);
    raw.remove_prefix(semi + 1);
    if (ref == "lt") {
      out += '<';
    } else if (ref == "gt") {
      out += '>';
    } else if (ref == "amp") {
      out += '&';
    } else if (ref == "quot") {
      out += '"';
    } else if (ref == "apos") {
      out += '\'';
    } else if (ref.size() >= 2 && ref[0] == '#') {
      int base = 10;
      ref.remove_prefix(1);
      if (ref[0] == 'x') {
        base = 16;
        ref.remove_prefix(1);
      }
      uint32_t cp = 0;
      auto [end, ec] = std::from_chars(ref.data(), ref.data() + ref.size(), cp, base);
      if (ec != std::errc() || end != ref.data() + ref.size() || ref.empty()) return false;
      bool allowed = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
                     (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
      if (!allowed) return false;
      AppendUtf8(out, cp);
    } else {
      return false;
    }
  }
  return true;
}

class Parser {
 public:
  Parser(std::string_view in, const XmlLimits& limits) : in_(in), limits_(limits) {}

  std::optional<XmlElement> Document() {
    if (in_.size() > limits_.max_bytes) return std::nullopt;
    if (in_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // a UTF-8 byte order mark
    std::optional<XmlElement> root;
    while (pos_ < in_.size()) {
      size_t lt = in_.find('<', pos_);
      std::string_view text = in_.substr(pos_, lt == std::string_view::npos ? lt : lt - pos_);
      if (open_.empty()) {
        if (!Trim(text).empty()) return std::nullopt;  // text outside the root
      } else if (!AppendDecodedText(text, open_.back().text)) {
        return std::nullopt;
      }
      if (lt == std::string_view::npos) break;
      pos_ = lt;
      std::string_view rest = in_.substr(pos_);
      if (rest.starts_with("<?")) {
        if (!SkipPast("?>")) return std::nullopt;
      } else if (rest.starts_with("<!--")) {
        if (!SkipPast("-->")) return std::nullopt;
      } else if (rest.starts_with("<![CDATA[")) {
        if (open_.empty()) return std::nullopt;
        size_t end = in_.find("]]>", pos_ + 9);
        if (end == std::string_view::npos) return std::nullopt;
        open_.back().text.append(in_.substr(pos_ + 9, end - pos_ - 9));
        pos_ = end + 3;
      } else if (rest.starts_with("<!")) {
        return std::nullopt;  // DOCTYPE and its entity definitions: never in S3's answers
      } else if (rest.starts_with("</")) {
        if (!CloseTag(root)) return std::nullopt;
      } else {
        if (root) return std::nullopt;  // a second root
        if (!OpenTag(root)) return std::nullopt;
      }
    }
    if (!open_.empty() || !root) return std::nullopt;  // truncated, or no element at all
    return root;
  }

 private:
  bool SkipPast(std::string_view end) {
    size_t at = in_.find(end, pos_ + 2);
    if (at == std::string_view::npos) return false;
    pos_ = at + end.size();
    return true;
  }

  // The tag name starting at pos_; advances past it. Empty when there is none.
  std::string_view Name() {
    size_t start = pos_;
    while (pos_ < in_.size() && !EndsName(in_[pos_])) {
      if (!ValidNameChar(in_[pos_])) return {};
      ++pos_;
    }
    return in_.substr(start, pos_ - start);
  }

  static std::string LocalName(std::string_view name) {
    size_t colon = name.rfind(':');
    return std::string(colon == std::string_view::npos ? name : name.substr(colon + 1));
  }

  // "<name attr='v' ...>" or "<name .../>" at pos_.
  bool OpenTag(std::optional<XmlElement>& root) {
    ++pos_;
    std::string_view name = Name();
    if (name.empty()) return false;
    // Attributes are skipped, quoted values included (a '>' may be inside one).
    bool self_closing = false;
    while (true) {
      if (pos_ >= in_.size()) return false;
      char c = in_[pos_];
      if (c == '"' || c == '\'') {
        size_t close = in_.find(c, pos_ + 1);
        if (close == std::string_view::npos) return false;
        pos_ = close + 1;
      } else if (c == '<') {
        return false;
      } else if (c == '/') {
        if (pos_ + 1 >= in_.size() || in_[pos_ + 1] != '>') return false;
        self_closing = true;
        pos_ += 2;
        break;
      } else if (c == '>') {
        ++pos_;
        break;
      } else {
        ++pos_;
      }
    }
    if (++elements_ > limits_.max_elements) return false;
    if (open_.size() + 1 > static_cast<size_t>(limits_.max_depth)) return false;
    XmlElement element;
    element.name = LocalName(name);
    open_.push_back(std::move(element));
    raw_names_.push_back(name);
    if (self_closing) Close(root);
    return true;
  }

  // "</name>" at pos_: must close the innermost open element.
  bool CloseTag(std::optional<XmlElement>& root) {
    pos_ += 2;
    std::string_view name = Name();
    while (pos_ < in_.size() && IsSpace(in_[pos_])) ++pos_;
    if (pos_ >= in_.size() || in_[pos_] != '>') return false;
    ++pos_;
    if (open_.empty() || raw_names_.back() != name) return false;
    Close(root);
    return true;
  }

  void Close(std::optional<XmlElement>& root) {
    XmlElement done = std::move(open_.back());
    open_.pop_back();
    raw_names_.pop_back();
    if (open_.empty()) {
      root = std::move(done);
    } else {
      open_.back().children.push_back(std::move(done));
    }
  }

  std::string_view in_;
  const XmlLimits& limits_;
  size_t pos_ = 0;
  size_t elements_ = 0;
  std::vector<XmlElement> open_;  // the elements not closed yet, outermost first
  std::vector<std::string_view> raw_names_;
};

template <typename Int>
std::optional<Int> ParseNumber(std::string_view text) {
  text = Trim(text);
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool IsTrue(std::string_view text) {
  return Trim(text) == "true";
}

}  // namespace

const XmlElement* XmlElement::Child(std::string_view child) const {
  for (const XmlElement& c : children) {
    if (c.name == child) return &c;
  }
  return nullptr;
}

std::string_view XmlElement::ChildText(std::string_view child) const {
  const XmlElement* c = Child(child);
  return c ? std::string_view(c->text) : std::string_view();
}

std::optional<XmlElement> ParseXml(std::string_view body, const XmlLimits& limits) {
  return Parser(body, limits).Document();
}

std::optional<S3ErrorBody> ParseS3Error(std::string_view body) {
  std::optional<XmlElement> root = ParseXml(body);
  if (!root || root->name != "Error") return std::nullopt;
  return S3ErrorBody{std::string(Trim(root->ChildText("Code"))),
                     std::string(root->ChildText("Message")),
                     std::string(Trim(root->ChildText("RequestId")))};
}

std::optional<std::string> UrlDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      uint8_t byte = 0;
      auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, byte, 16);
      if (ec != std::errc() || end != text.data() + i + 3) return std::nullopt;
      out += static_cast<char>(byte);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string UnquoteEtag(std::string_view etag) {
  etag = Trim(etag);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

std::optional<S3ObjectPage> ParseListObjectsV2(std::string_view body) {
  std::optional<XmlElement> root = ParseXml(body);
  if (!root || root->name != "ListBucketResult") return std::nullopt;
  bool url_encoded = Trim(root->ChildText("EncodingType")) == "url";
  S3ObjectPage page;
  for (const XmlElement& c : root->children) {
    if (c.name != "Contents") continue;
    S3Object object;
    if (url_encoded) {
      std::optional<std::string> key = UrlDecode(c.ChildText("Key"));
      if (!key) return std::nullopt;
      object.key = std::move(*key);
    } else {
      object.key = std::string(c.ChildText("Key"));
    }
    std::optional<uint64_t> size = ParseNumber<uint64_t>(c.ChildText("Size"));
    if (object.key.empty() || !size) return std::nullopt;
    object.size = *size;
    object.etag = UnquoteEtag(c.ChildText("ETag"));
    object.last_modified = std::string(Trim(c.ChildText("LastModified")));
    page.objects.push_back(std::move(object));
  }
  if (IsTrue(root->ChildText("IsTruncated"))) {
    page.next_continuation_token = std::string(Trim(root->ChildText("NextContinuationToken")));
    if (page.next_continuation_token.empty()) return std::nullopt;
  }
  return page;
}

std::optional<S3PartPage> ParseListParts(std::string_view body) {
  std::optional<XmlElement> root = ParseXml(body);
  if (!root || root->name != "ListPartsResult") return std::nullopt;
  S3PartPage page;
  for (const XmlElement& c : root->children) {
    if (c.name != "Part") continue;
    std::optional<int> number = ParseNumber<int>(c.ChildText("PartNumber"));
    std::optional<uint64_t> size = ParseNumber<uint64_t>(c.ChildText("Size"));
    if (!number || *number < 1 || *number > 10000 || !size) return std::nullopt;
    page.parts.push_back(S3Part{*number, UnquoteEtag(c.ChildText("ETag")), *size});
  }
  if (IsTrue(root->ChildText("IsTruncated"))) {
    std::optional<int> next = ParseNumber<int>(root->ChildText("NextPartNumberMarker"));
    if (!next || *next < 1 || *next > 10000) return std::nullopt;
    page.next_part_number_marker = *next;
  }
  return page;
}

std::optional<std::string> ParseInitiateMultipartUpload(std::string_view body) {
  std::optional<XmlElement> root = ParseXml(body);
  if (!root || root->name != "InitiateMultipartUploadResult") return std::nullopt;
  std::string_view id = Trim(root->ChildText("UploadId"));
  if (id.empty()) return std::nullopt;
  return std::string(id);
}

std::optional<std::string> ParseResultEtag(std::string_view body, std::string_view root_name) {
  std::optional<XmlElement> root = ParseXml(body);
  if (!root || root->name != root_name) return std::nullopt;
  return UnquoteEtag(root->ChildText("ETag"));
}

}  // namespace kura::store
