#include "store/s3_client.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <mutex>
#include <random>
#include <thread>

#include "core/digest.h"
#include "store/libcurl_api.h"

namespace kura::store {
namespace {

// The SHA-256 of no bytes: the payload hash of a request without a body.
constexpr const char* kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// What an answer other than a listing or an object may hold: an <Error>, an upload id.
constexpr size_t kAnswerCap = 64 * 1024;
// A page of a listing: 1,000 keys of up to 1,024 bytes, URL-encoded, fit.
constexpr size_t kListingCap = 1 << 20;
constexpr size_t kMaxKeyBytes = 1024;  // S3's limit on a key
// libcurl's largest receive buffer (CURL_MAX_READ_SIZE): fewer, larger writes into the sink.
constexpr long kReceiveBuffer = 512 * 1024;
// libcurl's send buffer, 64 KiB by default; 1 MiB halves the system calls of a part upload.
constexpr long kSendBuffer = 1024 * 1024;
// libcurl reuses a connection idle for less than this; servers close idle ones after some
// seconds (radosgw's beast after 65 s, AWS after ~20 s), and a request sent on a connection the
// server is closing fails.
constexpr long kMaxIdleSeconds = 15;

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

// SigV4's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ as %XX (upper-case hex), and '/' too
// unless `keep_slash` (an object key's slashes stay: S3 signs the path as sent, encoded once).
// The URL carries the key encoded exactly so, and libcurl signs the path as it is in the URL,
// so the signature matches the canonical request the store computes.
std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (Unreserved(c) || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Failures after which the request may succeed if sent again.
bool TransientCurlError(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_AGAIN:
      return true;
    default:
      return false;
  }
}

// Failures that leave the request unsent: safe to retry even when it is not idempotent.
bool NothingSent(CURLcode rc) {
  return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT;
}

S3ErrorKind KindOf(int status, std::string_view code) {
  if (status == 404) return S3ErrorKind::kNotFound;
  if (status == 416) return S3ErrorKind::kInvalidRange;
  if (status == 412) return S3ErrorKind::kPreconditionFailed;
  if (status == 507 || code == "QuotaExceeded" || code == "EntityTooLarge" ||
      code == "InsufficientCapacity" || code == "InsufficientStorage") {
    return S3ErrorKind::kStorageFull;
  }
  if (status == 401 || status == 403) return S3ErrorKind::kAccessDenied;
  if (status >= 500 || code == "RequestTimeout" || code == "SlowDown") {
    return S3ErrorKind::kUnavailable;
  }
  return S3ErrorKind::kRejected;
}

// Error answers after which the request may succeed if sent again: the store's own failures
// and its requests to slow down.
bool RetryableAnswer(int status, std::string_view code) {
  return (status >= 500 && status != 501 && status != 507) || code == "RequestTimeout" ||
         code == "SlowDown" || code == "InternalError";
}

[[noreturn]] void Throw(const S3Error& e) {
  if (e.kind() == S3ErrorKind::kUnavailable) {
    throw S3Unavailable(e.what(), e.status(), e.code(), e.s3_message(), e.request_id());
  }
  throw e;
}

// The ETag S3 gives an object assembled from `parts`: the MD5 of the parts' MD5s, "-", their
// count. nullopt when an ETag is not an MD5 (encrypted parts), so the ETag cannot be foreseen.
std::optional<std::string> MultipartEtag(const std::vector<CompletedPart>& parts) {
  std::string md5s;
  for (const CompletedPart& part : parts) {
    std::string hex = UnquoteEtag(part.etag);
    if (hex.size() != 32) return std::nullopt;
    for (size_t i = 0; i < 32; i += 2) {
      unsigned value = 0;
      for (size_t j = i; j < i + 2; ++j) {
        char c = hex[j];
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
        if (digit < 0) return std::nullopt;
        value = value * 16 + static_cast<unsigned>(digit);
      }
      md5s += static_cast<char>(value);
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(md5s.data(), md5s.size(), md, &len, EVP_md5(), nullptr) != 1) {
    return std::nullopt;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xF];
  }
  return out + "-" + std::to_string(parts.size());
}

std::string EnvOr(const std::string& current, std::initializer_list<const char*> names) {
  if (!current.empty()) return current;
  for (const char* name : names) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return current;
}


std::string Hex(const unsigned char* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xF];
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(md), len);
}

// The Authorization header of AWS Signature Version 4 for a request to `url` (its path and
// query as sent: encoded once, the query canonical already) with `headers` ("Name: value", the
// Host header and x-amz-date among them), every one of them signed, sorted by name.
std::string SigV4Authorization(std::string_view method, std::string_view url,
                               const std::vector<std::string>& headers,
                               std::string_view payload_hash, std::string_view amz_date,
                               const std::string& region, const std::string& access_key,
                               const std::string& secret_key) {
  size_t authority = url.find("://");
  authority = authority == std::string_view::npos ? 0 : authority + 3;
  size_t path_at = url.find('/', authority);
  std::string_view path_and_query =
      path_at == std::string_view::npos ? std::string_view("/") : url.substr(path_at);
  size_t q = path_and_query.find('?');
  std::string_view path = path_and_query.substr(0, q);
  std::string_view query = q == std::string_view::npos ? "" : path_and_query.substr(q + 1);

  std::vector<std::pair<std::string, std::string>> canonical;
  for (const std::string& header : headers) {
    size_t colon = header.find(':');
    std::string name = header.substr(0, colon);
    for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    std::string_view value =
        colon == std::string::npos ? std::string_view() : std::string_view(header).substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    canonical.emplace_back(std::move(name), std::string(value));
  }
  std::sort(canonical.begin(), canonical.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : canonical) {
    canonical_headers += name + ":" + value + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }
  std::string request = std::string(method) + "\n" + std::string(path) + "\n" +
                        std::string(query) + "\n" + canonical_headers + "\n" + signed_headers +
                        "\n" + std::string(payload_hash);
  std::string_view date = amz_date.substr(0, 8);
  std::string scope = std::string(date) + "/" + region + "/s3/aws4_request";
  std::string to_sign = "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + scope + "\n" +
                        std::string(core::Sha256Of(request).hex());
  std::string key = HmacSha256("AWS4" + secret_key, date);
  key = HmacSha256(key, region);
  key = HmacSha256(key, "s3");
  key = HmacSha256(key, "aws4_request");
  std::string signature = HmacSha256(key, to_sign);
  return "Authorization: AWS4-HMAC-SHA256 Credential=" + access_key + "/" + scope +
         ", SignedHeaders=" + signed_headers + ", Signature=" +
         Hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

}  // namespace

S3Config S3ConfigFromEnvironment(S3Config config) {
  config.access_key = EnvOr(config.access_key, {"AWS_ACCESS_KEY_ID"});
  config.secret_key = EnvOr(config.secret_key, {"AWS_SECRET_ACCESS_KEY"});
  config.session_token = EnvOr(config.session_token, {"AWS_SESSION_TOKEN"});
  config.region = EnvOr(config.region, {"AWS_REGION", "AWS_DEFAULT_REGION"});
  config.endpoint = EnvOr(config.endpoint, {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"});
  return config;
}

std::string_view S3ErrorKindName(S3ErrorKind kind) {
  switch (kind) {
    case S3ErrorKind::kNotFound:
      return "not found";
    case S3ErrorKind::kUnavailable:
      return "unavailable";
    case S3ErrorKind::kStorageFull:
      return "storage full";
    case S3ErrorKind::kAccessDenied:
      return "access denied";
    case S3ErrorKind::kInvalidRange:
      return "invalid range";
    case S3ErrorKind::kPreconditionFailed:
      return "precondition failed";
    case S3ErrorKind::kRejected:
      return "rejected";
    case S3ErrorKind::kBadAnswer:
      return "bad answer";
  }
  return "unknown";
}

S3Error::S3Error(S3ErrorKind kind, const std::string& what, int status, std::string code,
                 std::string s3_message, std::string request_id)
    : std::runtime_error(what),
      kind_(kind),
      status_(status),
      code_(std::move(code)),
      s3_message_(std::move(s3_message)),
      request_id_(std::move(request_id)) {}

// A request, as the operations describe it to Call.
struct S3Client::Request {
  const char* method = "GET";
  std::string full_key;  // empty: the bucket itself
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::string> headers;  // "Name: value", signed like every header
  std::optional<std::string_view> body;
  const ByteSink* sink = nullptr;  // 2xx bodies go here instead of Response::body
  std::optional<ByteRange> range;
  size_t answer_cap = kAnswerCap;
  bool idempotent = true;
  // Set: the whole attempt must end within it, and the low-speed limit is off (a copy on the
  // store's side sends nothing until it is done).
  std::optional<std::chrono::milliseconds> deadline;
  // Signed here rather than by libcurl: 7.88 sorts the signed headers by the whole line
  // ("name:value"), so x-amz-copy-source-range comes before x-amz-copy-source (':' > '-'),
  // where SigV4 (and radosgw) sort by name.
  bool sign_here = false;
};

struct S3Client::Response {
  int status = 0;
  std::string body;
  std::string etag;
  int64_t content_length = -1;
};

// What the attempts of one GET have put into its sink, to resume where the last one stopped.
struct S3Client::Download {
  uint64_t delivered = 0;
  std::string etag;       // of the object, from the first answer
  int64_t expected = -1;  // the first answer's Content-Length
};

// One attempt: a response, or an error and whether sending the request again may help.
struct S3Client::Outcome {
  std::optional<Response> response;
  std::optional<S3Error> error;
  bool retryable = false;
  bool nothing_sent = false;  // could not connect: safe to send again whatever the request
};

// One attempt's state, shared with libcurl's callbacks.
struct S3Client::Transfer {
  const LibcurlApi* curl = nullptr;
  CURL* handle = nullptr;
  std::string_view upload;
  size_t sent = 0;
  const ByteSink* sink = nullptr;
  bool expect_partial = false;  // a Range was sent: a 2xx body must be a 206
  std::string expect_etag;      // resuming: a 2xx body must be of this ETag
  enum class Body { kUndecided, kToSink, kCollect } body = Body::kUndecided;
  uint64_t delivered = 0;
  std::string collected;
  size_t cap = kAnswerCap;
  bool too_large = false;
  bool whole_instead_of_range = false;
  bool other_object = false;
  std::exception_ptr sink_error;
  std::string etag;

  static size_t Write(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<Transfer*>(self);
    size_t n = size * count;
    if (t->body == Body::kUndecided) {
      long status = 0;
      t->curl->easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
      bool success = status >= 200 && status < 300;
      if (success && t->expect_partial && status != 206) {
        t->whole_instead_of_range = true;
        return 0;
      }
      // A store that ignores If-Match must not splice another object's bytes onto these.
      if (success && !t->expect_etag.empty() && t->etag != t->expect_etag) {
        t->other_object = true;
        return 0;
      }
      t->body = t->sink != nullptr && success ? Body::kToSink : Body::kCollect;
    }
    if (t->body == Body::kToSink) {
      try {
        (*t->sink)(std::string_view(data, n));
      } catch (...) {
        t->sink_error = std::current_exception();
        return 0;
      }
      t->delivered += n;
      return n;
    }
    if (t->collected.size() + n > t->cap) {
      t->too_large = true;
      return 0;
    }
    t->collected.append(data, n);
    return n;
  }

  static size_t Header(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<Transfer*>(self);
    size_t n = size * count;
    std::string_view line(data, n);
    if (line.starts_with("HTTP/")) t->etag.clear();  // a new answer (after a 100 Continue)
    constexpr std::string_view kEtag = "etag:";
    if (line.size() > kEtag.size() && std::equal(kEtag.begin(), kEtag.end(), line.begin(),
                                                 [](char a, char b) { return a == (b | 0x20); })) {
      t->etag = UnquoteEtag(line.substr(kEtag.size()));
    }
    return n;
  }

  static size_t Read(char* buffer, size_t size, size_t count, void* self) {
    auto* t = static_cast<Transfer*>(self);
    size_t n = std::min(size * count, t->upload.size() - t->sent);
    std::memcpy(buffer, t->upload.data() + t->sent, n);
    t->sent += n;
    return n;
  }

  // libcurl rewinds the body to send it again (a reused connection that the server had closed).
  static int Seek(void* self, curl_off_t offset, int origin) {
    auto* t = static_cast<Transfer*>(self);
    if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > t->upload.size()) {
      return CURL_SEEKFUNC_CANTSEEK;
    }
    t->sent = static_cast<size_t>(offset);
    return CURL_SEEKFUNC_OK;
  }
};

// Idle libcurl handles. Each keeps its connection (and DNS cache) from one request to the next.
class S3Client::Handles {
 public:
  Handles(const LibcurlApi& curl, size_t max_idle) : curl_(curl), max_idle_(max_idle) {}
  ~Handles() {
    for (CURL* h : idle_) curl_.easy_cleanup(h);
  }

  CURL* Take() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        return h;
      }
    }
    CURL* h = curl_.easy_init();
    if (h == nullptr) throw std::bad_alloc();
    return h;
  }

  void Give(CURL* h) {
    curl_.easy_reset(h);  // the options go; the connection stays
    std::lock_guard lock(mutex_);
    if (idle_.size() < max_idle_) {
      idle_.push_back(h);
      return;
    }
    curl_.easy_cleanup(h);
  }

 private:
  const LibcurlApi& curl_;
  const size_t max_idle_;
  std::mutex mutex_;
  std::vector<CURL*> idle_;
};

namespace {

// A handle taken from the pool for one attempt, given back at the end of the scope.
template <typename Pool>
class Lease {
 public:
  explicit Lease(Pool& pool) : pool_(pool), handle_(pool.Take()) {}
  ~Lease() { pool_.Give(handle_); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  CURL* get() const { return handle_; }

 private:
  Pool& pool_;
  CURL* handle_;
};

class HeaderList {
 public:
  explicit HeaderList(const LibcurlApi& curl) : curl_(curl) {}
  ~HeaderList() { curl_.slist_free_all(list_); }
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  void Add(const std::string& header) {
    curl_slist* more = curl_.slist_append(list_, header.c_str());
    if (more == nullptr) throw std::bad_alloc();
    list_ = more;
  }
  curl_slist* get() const { return list_; }

 private:
  const LibcurlApi& curl_;
  curl_slist* list_ = nullptr;
};

}  // namespace

S3Client::S3Client(S3Config config) : config_(std::move(config)), curl_(Libcurl()) {
  std::string_view endpoint = config_.endpoint;
  while (endpoint.ends_with('/')) endpoint.remove_suffix(1);
  size_t sep = endpoint.find("://");
  if (sep != std::string_view::npos) {
    scheme_ = std::string(endpoint.substr(0, sep));
    authority_ = std::string(endpoint.substr(sep + 3));
  }
  bool bad_authority =
      authority_.empty() || authority_.find_first_of("/?#@ \t\r\n") != std::string::npos;
  if ((scheme_ != "http" && scheme_ != "https") || bad_authority) {
    throw std::invalid_argument("S3 endpoint \"" + config_.endpoint +
                                "\" is not http://host[:port] or https://host[:port]");
  }
  if (config_.bucket.empty()) throw std::invalid_argument("S3 bucket is empty");
  if (config_.access_key.empty() || config_.secret_key.empty()) {
    throw std::invalid_argument(
        "S3 access key or secret key is empty (AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY)");
  }
  if (config_.region.empty()) config_.region = "us-east-1";
  if (config_.max_attempts < 1) config_.max_attempts = 1;
  sigv4_ = "aws:amz:" + config_.region + ":s3";
  handles_ = std::make_unique<Handles>(curl_, std::max(config_.max_idle_connections, 0));
}

S3Client::~S3Client() = default;

S3ClientStats S3Client::stats() const {
  return S3ClientStats{requests_.load(), retries_.load(), connections_.load()};
}

std::string S3Client::FullKey(std::string_view key) const {
  std::string full = config_.prefix + std::string(key);
  if (key.empty() || full.size() > kMaxKeyBytes) {
    throw S3Error(S3ErrorKind::kRejected,
                  "S3 key \"" + full + "\" is empty or longer than 1,024 bytes");
  }
  return full;
}

std::string S3Client::Url(const Request& r) const {
  std::string url = scheme_ + "://";
  if (config_.path_style) {
    url += authority_ + "/" + UriEncode(config_.bucket, false);
    if (!r.full_key.empty()) url += "/" + UriEncode(r.full_key, true);
  } else {
    url += config_.bucket + "." + authority_ + "/" + UriEncode(r.full_key, true);
  }
  // libcurl (7.88) signs the query as it is in the URL: it must be SigV4's canonical query
  // already, names and values encoded, sorted, and "name=" for a name without a value.
  std::vector<std::string> params;
  for (const auto& [name, value] : r.query) {
    params.push_back(UriEncode(name, false) + "=" + UriEncode(value, false));
  }
  std::sort(params.begin(), params.end());
  for (size_t i = 0; i < params.size(); ++i) url += (i == 0 ? "?" : "&") + params[i];
  return url;
}

void S3Client::Backoff(int attempt) const {
  thread_local std::minstd_rand random(std::random_device{}());
  int64_t delay = std::min<int64_t>(config_.first_retry_delay.count() << std::min(attempt - 1, 20),
                                    config_.max_retry_delay.count());
  std::uniform_int_distribution<int64_t> jitter(delay / 2, delay);
  std::this_thread::sleep_for(std::chrono::milliseconds(jitter(random)));
}

S3Client::Response S3Client::Call(const Request& r) {
  // Hashed once for every attempt: a part is 5 MiB or more.
  std::string payload_hash = kEmptySha256;
  if (r.body && !r.body->empty()) {
    payload_hash = config_.sign_payload || r.body->size() <= kAnswerCap
                       ? std::string(core::Sha256Of(*r.body).hex())
                       : "UNSIGNED-PAYLOAD";
  }
  Download download;
  for (int attempt = 1;; ++attempt) {
    Outcome outcome = CallOnce(r, payload_hash, download);
    if (outcome.response) return std::move(*outcome.response);
    bool may_retry = outcome.retryable && (r.idempotent || outcome.nothing_sent) &&
                     attempt < config_.max_attempts;
    if (download.delivered > 0) {
      // The sink has all the bytes: the failure came after them.
      if (download.expected >= 0 &&
          download.delivered == static_cast<uint64_t>(download.expected)) {
        return Response{200, {}, download.etag, download.expected};
      }
      // Bytes already in the sink: only the same object's rest may follow them.
      if (download.etag.empty()) may_retry = false;
    }
    if (!may_retry) {
      const S3Error& e = *outcome.error;
      std::string what = e.what();
      if (attempt > 1) what += " (" + std::to_string(attempt) + " attempts)";
      Throw(S3Error(e.kind(), what, e.status(), e.code(), e.s3_message(), e.request_id()));
    }
    retries_.fetch_add(1, std::memory_order_relaxed);
    Backoff(attempt);
  }
}

S3Client::Outcome S3Client::CallOnce(const Request& r, const std::string& payload_hash,
                                     Download& download) {
  Lease<Handles> lease(*handles_);
  CURL* h = lease.get();
  auto set_long = [&](CURLoption option, long value) { curl_.easy_setopt(h, option, value); };
  auto set_ptr = [&](CURLoption option, const void* value) { curl_.easy_setopt(h, option, value); };
  const std::string url = Url(r);
  const std::string what = std::string("S3 ") + r.method + " " + config_.bucket + "/" + r.full_key;

  Transfer t;
  t.curl = &curl_;
  t.handle = h;
  t.sink = r.sink;
  t.cap = r.answer_cap;

  HeaderList headers(curl_);
  std::vector<std::string> signed_here;  // the headers a request signed here signs
  auto add = [&](const std::string& header) {
    headers.Add(header);
    if (r.sign_here) signed_here.push_back(header);
  };
  // radosgw wants the payload hash as a header (AWS too); libcurl signs the value given here.
  add("x-amz-content-sha256: " + payload_hash);
  if (!config_.session_token.empty()) add("x-amz-security-token: " + config_.session_token);
  if (r.range || download.delivered > 0) {
    uint64_t first = (r.range ? r.range->first : 0) + download.delivered;
    std::string range = "Range: bytes=" + std::to_string(first) + "-";
    if (r.range && r.range->last) range += std::to_string(*r.range->last);
    add(range);
    t.expect_partial = true;
  }
  if (download.delivered > 0) {
    add("If-Match: \"" + download.etag + "\"");
    t.expect_etag = download.etag;
  }
  for (const std::string& header : r.headers) add(header);
  if (r.sign_here) {
    // The Host header as sent is the one signed (libcurl leaves out a default port).
    size_t authority_at = url.find("://") + 3;
    add("Host: " + url.substr(authority_at, url.find('/', authority_at) - authority_at));
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char amz_date[17];
    std::strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    add(std::string("x-amz-date: ") + amz_date);
    headers.Add(SigV4Authorization(r.method, url, signed_here, payload_hash, amz_date,
                                   config_.region, config_.access_key, config_.secret_key));
  }

  char error_text[CURL_ERROR_SIZE] = "";
  curl_.easy_setopt(h, CURLOPT_URL, url.c_str());
  set_long(CURLOPT_PATH_AS_IS, 1);  // a key's "." and ".." segments are the key's, not a path's
  set_long(CURLOPT_NOSIGNAL, 1);    // no SIGALRM for timeouts: other threads run
  set_long(CURLOPT_TCP_NODELAY, 1);
  set_long(CURLOPT_TCP_KEEPALIVE, 1);
  set_long(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  set_long(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout.count()));
  if (r.deadline) {
    set_long(CURLOPT_TIMEOUT_MS, static_cast<long>(r.deadline->count()));
  } else {
    set_long(CURLOPT_LOW_SPEED_LIMIT, config_.low_speed_bytes);
    set_long(CURLOPT_LOW_SPEED_TIME, static_cast<long>(config_.low_speed_time.count()));
  }
  set_long(CURLOPT_MAXAGE_CONN, kMaxIdleSeconds);
  set_long(CURLOPT_BUFFERSIZE, kReceiveBuffer);
  set_long(CURLOPT_UPLOAD_BUFFERSIZE, kSendBuffer);
  set_ptr(CURLOPT_ERRORBUFFER, error_text);
  curl_.easy_setopt(h, CURLOPT_USERAGENT, "kura/" KURA_VERSION);
  if (!r.sign_here) {
    curl_.easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4_.c_str());
    curl_.easy_setopt(h, CURLOPT_USERNAME, config_.access_key.c_str());
    curl_.easy_setopt(h, CURLOPT_PASSWORD, config_.secret_key.c_str());
  }
  if (!config_.ca_file.empty()) curl_.easy_setopt(h, CURLOPT_CAINFO, config_.ca_file.c_str());
  curl_.easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_.easy_setopt(h, CURLOPT_HEADERFUNCTION, &Transfer::Header);
  set_ptr(CURLOPT_HEADERDATA, &t);
  curl_.easy_setopt(h, CURLOPT_WRITEFUNCTION, &Transfer::Write);
  set_ptr(CURLOPT_WRITEDATA, &t);

  std::string_view method = r.method;
  if (method == "HEAD") {
    set_long(CURLOPT_NOBODY, 1);
  } else if (method == "PUT" || method == "POST") {
    t.upload = r.body.value_or(std::string_view());
    curl_.easy_setopt(h, CURLOPT_READFUNCTION, &Transfer::Read);
    set_ptr(CURLOPT_READDATA, &t);
    curl_.easy_setopt(h, CURLOPT_SEEKFUNCTION, &Transfer::Seek);
    set_ptr(CURLOPT_SEEKDATA, &t);
    auto size = static_cast<curl_off_t>(t.upload.size());
    if (method == "PUT") {
      set_long(CURLOPT_UPLOAD, 1);
      curl_.easy_setopt(h, CURLOPT_INFILESIZE_LARGE, size);
    } else {
      set_long(CURLOPT_POST, 1);
      curl_.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, size);
    }
  } else if (method != "GET") {
    curl_.easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method);
  }

  requests_.fetch_add(1, std::memory_order_relaxed);
  CURLcode rc = curl_.easy_perform(h);
  long status = 0;
  long connects = 0;
  curl_off_t content_length = -1;
  curl_.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_.easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
  curl_.easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &content_length);
  connections_.fetch_add(static_cast<uint64_t>(std::max(connects, 0L)), std::memory_order_relaxed);
  bool success = status >= 200 && status < 300;
  if (success && t.body == Transfer::Body::kToSink && download.delivered == 0) {
    download.etag = t.etag;
    download.expected = static_cast<int64_t>(content_length);
  }
  download.delivered += t.delivered;

  if (t.sink_error) std::rethrow_exception(t.sink_error);
  Outcome outcome;
  if (rc == CURLE_OK && success) {
    outcome.response = Response{static_cast<int>(status), std::move(t.collected), std::move(t.etag),
                                static_cast<int64_t>(content_length)};
    return outcome;
  }
  if (t.too_large) {
    outcome.error.emplace(S3ErrorKind::kBadAnswer,
                          what + ": the answer is larger than " + std::to_string(t.cap) + " bytes",
                          static_cast<int>(status));
  } else if (t.whole_instead_of_range) {
    outcome.error.emplace(S3ErrorKind::kBadAnswer,
                          what + ": answered " + std::to_string(status) + " to a ranged GET",
                          static_cast<int>(status));
  } else if (t.other_object) {
    outcome.error.emplace(
        S3ErrorKind::kPreconditionFailed,
        what + ": resuming, got ETag \"" + t.etag + "\" instead of \"" + t.expect_etag + "\"",
        static_cast<int>(status));
  } else if (rc != CURLE_OK) {
    // No answer, or one cut short: curl's text names the host and the failure.
    std::string why = error_text[0] != '\0' ? error_text : curl_.easy_strerror(rc);
    outcome.error.emplace(S3ErrorKind::kUnavailable, what + ": " + why, 0);
    outcome.retryable = TransientCurlError(rc);
    outcome.nothing_sent = NothingSent(rc);
  } else {
    std::optional<S3ErrorBody> body = ParseS3Error(t.collected);
    std::string code = body ? body->code : std::string();
    std::string text = what + ": " + std::to_string(status);
    if (!code.empty()) text += " " + code;
    if (body && !body->message.empty()) text += ": " + body->message;
    if (body && !body->request_id.empty()) text += " (request " + body->request_id + ")";
    outcome.error.emplace(KindOf(static_cast<int>(status), code), text, static_cast<int>(status),
                          code, body ? body->message : std::string(),
                          body ? body->request_id : std::string());
    outcome.retryable = RetryableAnswer(static_cast<int>(status), code);
  }
  return outcome;
}

void S3Client::CreateBucketIfMissing() {
  Request r;
  r.method = "PUT";
  std::string body;
  if (config_.region != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        XmlEscape(config_.region) + "</LocationConstraint></CreateBucketConfiguration>";
    r.headers.push_back("Content-Type: application/xml");
  }
  r.body = body;
  try {
    Call(r);
  } catch (const S3Error& e) {
    if (e.code() != "BucketAlreadyOwnedByYou") throw;
  }
}

std::string S3Client::PutObject(std::string_view key, std::string_view data) {
  Request r;
  r.method = "PUT";
  r.full_key = FullKey(key);
  r.body = data;
  return Call(r).etag;
}

bool S3Client::GetObject(std::string_view key, const ByteSink& sink,
                         std::optional<ByteRange> range) {
  Request r;
  r.full_key = FullKey(key);
  r.sink = &sink;
  r.range = range;
  try {
    Call(r);
  } catch (const S3Error& e) {
    if (e.kind() == S3ErrorKind::kNotFound && e.code() != "NoSuchBucket") return false;
    throw;
  }
  return true;
}

std::optional<std::string> S3Client::GetObjectBytes(std::string_view key,
                                                    std::optional<ByteRange> range) {
  std::string bytes;
  if (!GetObject(
          key, [&](std::string_view piece) { bytes.append(piece); }, range)) {
    return std::nullopt;
  }
  return bytes;
}

std::optional<ObjectInfo> S3Client::HeadObject(std::string_view key) {
  Request r;
  r.method = "HEAD";
  r.full_key = FullKey(key);
  try {
    Response response = Call(r);
    if (response.content_length < 0) {
      throw S3Error(S3ErrorKind::kBadAnswer,
                    "S3 HEAD " + config_.bucket + "/" + r.full_key + ": no Content-Length");
    }
    return ObjectInfo{static_cast<uint64_t>(response.content_length), std::move(response.etag)};
  } catch (const S3Error& e) {
    if (e.kind() == S3ErrorKind::kNotFound) return std::nullopt;
    throw;
  }
}

void S3Client::DeleteObject(std::string_view key) {
  Request r;
  r.method = "DELETE";
  r.full_key = FullKey(key);
  try {
    Call(r);
  } catch (const S3Error& e) {
    // A retry after a delete whose answer was lost; S3 itself answers 204 for no object.
    if (e.code() != "NoSuchKey") throw;
  }
}

std::string S3Client::CopyObject(std::string_view from_key, std::string_view to_key) {
  Request r;
  r.method = "PUT";
  r.full_key = FullKey(to_key);
  r.headers.push_back("x-amz-copy-source: /" + UriEncode(config_.bucket, false) + "/" +
                      UriEncode(FullKey(from_key), true));
  r.body = std::string_view();
  Response response = Call(r);
  // S3 answers 200 before it copies, and reports a failure of the copy in the body.
  if (std::optional<std::string> etag = ParseResultEtag(response.body, "CopyObjectResult")) {
    return *etag;
  }
  std::optional<S3ErrorBody> error = ParseS3Error(response.body);
  std::string what = "S3 PUT " + config_.bucket + "/" + r.full_key + " (copy)";
  if (!error) throw S3Error(S3ErrorKind::kBadAnswer, what + ": no <CopyObjectResult>", 200);
  Throw(S3Error(
      RetryableAnswer(500, error->code) ? S3ErrorKind::kUnavailable : KindOf(200, error->code),
      what + ": 200 " + error->code + ": " + error->message, 200, error->code, error->message,
      error->request_id));
}

S3ObjectPage S3Client::ListObjects(std::string_view prefix, std::string_view continuation_token,
                                   int max_keys) {
  Request r;
  r.query = {{"list-type", "2"},
             {"prefix", config_.prefix + std::string(prefix)},
             {"encoding-type", "url"},
             {"max-keys", std::to_string(std::clamp(max_keys, 1, 1000))}};
  if (!continuation_token.empty()) {
    r.query.emplace_back("continuation-token", std::string(continuation_token));
  }
  r.answer_cap = kListingCap;
  Response response = Call(r);
  std::optional<S3ObjectPage> page = ParseListObjectsV2(response.body);
  std::string what = "S3 GET " + config_.bucket + "/?list-type=2";
  if (!page) throw S3Error(S3ErrorKind::kBadAnswer, what + ": not a <ListBucketResult>", 200);
  for (S3Object& object : page->objects) {
    if (!object.key.starts_with(config_.prefix)) {
      throw S3Error(S3ErrorKind::kBadAnswer, what + ": key " + object.key + " outside the prefix",
                    200);
    }
    object.key.erase(0, config_.prefix.size());
  }
  return std::move(*page);
}

std::string S3Client::CreateMultipartUpload(std::string_view key) {
  Request r;
  r.method = "POST";
  r.full_key = FullKey(key);
  r.query = {{"uploads", ""}};
  r.body = std::string_view();
  r.headers.push_back("Content-Type: application/octet-stream");  // else libcurl's form type
  r.idempotent = false;
  Response response = Call(r);
  std::optional<std::string> id = ParseInitiateMultipartUpload(response.body);
  if (!id) {
    throw S3Error(S3ErrorKind::kBadAnswer,
                  "S3 POST " + config_.bucket + "/" + r.full_key + "?uploads: no <UploadId>", 200);
  }
  return *id;
}

std::string S3Client::UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                 std::string_view data) {
  if (part_number < 1 || part_number > 10000 || upload_id.empty()) {
    throw S3Error(S3ErrorKind::kRejected, "S3 part number " + std::to_string(part_number) +
                                              " is not in 1..10000, or the upload id is empty");
  }
  Request r;
  r.method = "PUT";
  r.full_key = FullKey(key);
  r.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", std::string(upload_id)}};
  r.body = data;
  Response response = Call(r);
  if (response.etag.empty()) {
    throw S3Error(S3ErrorKind::kBadAnswer,
                  "S3 PUT " + config_.bucket + "/" + r.full_key + " (part): no ETag", 200);
  }
  return response.etag;
}

std::string S3Client::UploadPartCopy(std::string_view key, std::string_view upload_id,
                                     int part_number, std::string_view from_key, ByteRange range,
                                     std::string_view source_etag) {
  if (part_number < 1 || part_number > 10000 || upload_id.empty() || !range.last ||
      *range.last < range.first) {
    throw S3Error(S3ErrorKind::kRejected,
                  "S3 part number " + std::to_string(part_number) +
                      " is not in 1..10000, the upload id is empty, or the range is not first-last");
  }
  Request r;
  r.method = "PUT";
  r.full_key = FullKey(key);
  r.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", std::string(upload_id)}};
  r.headers.push_back("x-amz-copy-source: /" + UriEncode(config_.bucket, false) + "/" +
                      UriEncode(FullKey(from_key), true));
  r.headers.push_back("x-amz-copy-source-range: bytes=" + std::to_string(range.first) + "-" +
                      std::to_string(*range.last));
  if (!source_etag.empty()) {
    r.headers.push_back("x-amz-copy-source-if-match: \"" + UnquoteEtag(source_etag) + "\"");
  }
  r.body = std::string_view();
  r.sign_here = true;
  const uint64_t bytes = *range.last - range.first + 1;
  const uint64_t rate = std::max<uint64_t>(config_.copy_bytes_per_second, 1);
  // 1 ms at least: 0 would be no deadline at all for libcurl.
  r.deadline = std::max(
      std::chrono::milliseconds(1),
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.low_speed_time) +
          std::chrono::milliseconds(bytes / rate * 1000 + bytes % rate * 1000 / rate));
  Response response = Call(r);
  // Like CopyObject: a 200 may carry the copy's failure in its body.
  if (std::optional<std::string> etag = ParseResultEtag(response.body, "CopyPartResult")) {
    if (!etag->empty()) return *etag;
  }
  std::optional<S3ErrorBody> error = ParseS3Error(response.body);
  std::string what = "S3 PUT " + config_.bucket + "/" + r.full_key + " (part " +
                     std::to_string(part_number) + " copied from " + FullKey(from_key) + ")";
  if (!error) throw S3Error(S3ErrorKind::kBadAnswer, what + ": no ETag in <CopyPartResult>", 200);
  Throw(S3Error(
      RetryableAnswer(500, error->code) ? S3ErrorKind::kUnavailable : KindOf(200, error->code),
      what + ": 200 " + error->code + ": " + error->message, 200, error->code, error->message,
      error->request_id));
}

bool S3Client::UploadExists(const std::string& full_key, std::string_view upload_id) {
  Request r;
  r.full_key = full_key;
  r.query = {{"uploadId", std::string(upload_id)}, {"max-parts", "1"}};
  try {
    Call(r);
    return true;
  } catch (const S3Error& e) {
    if (e.kind() == S3ErrorKind::kNotFound) return false;
    throw;
  }
}

std::string S3Client::CompleteMultipartUpload(std::string_view key, std::string_view upload_id,
                                              const std::vector<CompletedPart>& parts) {
  std::string full_key = FullKey(key);
  std::string what = "S3 POST " + config_.bucket + "/" + full_key + "?uploadId (complete)";
  bool ascending = std::adjacent_find(parts.begin(), parts.end(), [](const auto& a, const auto& b) {
                     return a.number >= b.number;
                   }) == parts.end();
  if (parts.empty() || !ascending || parts.front().number < 1 || parts.back().number > 10000 ||
      upload_id.empty()) {
    throw S3Error(S3ErrorKind::kRejected,
                  what + ": parts must be numbered 1..10000, increasing, one at least");
  }
  std::string body = "<CompleteMultipartUpload>";
  for (const CompletedPart& part : parts) {
    body += "<Part><PartNumber>" + std::to_string(part.number) + "</PartNumber><ETag>\"" +
            XmlEscape(UnquoteEtag(part.etag)) + "\"</ETag></Part>";
  }
  body += "</CompleteMultipartUpload>";

  Request r;
  r.method = "POST";
  r.full_key = full_key;
  r.query = {{"uploadId", std::string(upload_id)}};
  r.body = body;
  r.headers.push_back("Content-Type: application/xml");
  r.idempotent = false;  // sent again only after the check below

  // After an attempt whose outcome is unknown, the upload is gone: that attempt may have
  // completed it. The object says: it has the ETag these parts make.
  auto completed_before = [&](const S3Error* cause) -> std::string {
    std::optional<ObjectInfo> object = HeadObject(key);
    std::optional<std::string> expected = MultipartEtag(parts);
    std::string suffix = "-" + std::to_string(parts.size());
    if (object && (expected ? object->etag == *expected : object->etag.ends_with(suffix))) {
      return object->etag;
    }
    throw S3Error(S3ErrorKind::kNotFound,
                  what +
                      ": the upload is gone, and the object is not the one these parts make "
                      "(aborted, or completed with other parts)",
                  cause ? cause->status() : 404, cause ? cause->code() : "NoSuchUpload");
  };
  for (int attempt = 1;; ++attempt) {
    std::optional<S3Error> failure;
    try {
      Response response = Call(r);
      if (std::optional<std::string> etag =
              ParseResultEtag(response.body, "CompleteMultipartUploadResult")) {
        if (!etag->empty()) return *etag;
        // radosgw 16 answers <ETag></ETag>: the object has it.
        std::optional<ObjectInfo> object = HeadObject(key);
        if (!object) throw S3Error(S3ErrorKind::kNotFound, what + ": no object after completion");
        return object->etag;
      }
      // S3 answers 200 at once and may report in the body that assembling the parts failed.
      std::optional<S3ErrorBody> error = ParseS3Error(response.body);
      if (!error) throw S3Error(S3ErrorKind::kBadAnswer, what + ": no result", 200);
      failure.emplace(
          RetryableAnswer(500, error->code) ? S3ErrorKind::kUnavailable : KindOf(200, error->code),
          what + ": 200 " + error->code + ": " + error->message, 200, error->code, error->message,
          error->request_id);
    } catch (const S3Error& e) {
      if (attempt > 1 && e.kind() == S3ErrorKind::kNotFound) return completed_before(&e);
      failure.emplace(e);
    }
    if (failure->kind() != S3ErrorKind::kUnavailable || attempt >= config_.max_attempts) {
      Throw(*failure);
    }
    retries_.fetch_add(1, std::memory_order_relaxed);
    Backoff(attempt);
    // Still there: the failed attempt did not complete it, and sending it again is safe.
    if (!UploadExists(full_key, upload_id)) return completed_before(nullptr);
  }
}

void S3Client::AbortMultipartUpload(std::string_view key, std::string_view upload_id) {
  Request r;
  r.method = "DELETE";
  r.full_key = FullKey(key);
  r.query = {{"uploadId", std::string(upload_id)}};
  try {
    Call(r);
  } catch (const S3Error& e) {
    if (e.kind() != S3ErrorKind::kNotFound) throw;
  }
}

std::vector<S3Part> S3Client::ListParts(std::string_view key, std::string_view upload_id) {
  std::string full_key = FullKey(key);
  std::vector<S3Part> parts;
  int marker = 0;
  // 10,000 parts at most, 1,000 a page: a store that keeps saying "more" is stopped.
  for (int page_count = 0; page_count < 11; ++page_count) {
    Request r;
    r.full_key = full_key;
    r.query = {{"uploadId", std::string(upload_id)}, {"max-parts", "1000"}};
    if (marker > 0) r.query.emplace_back("part-number-marker", std::to_string(marker));
    r.answer_cap = kListingCap;
    Response response = Call(r);
    std::optional<S3PartPage> page = ParseListParts(response.body);
    std::string what = "S3 GET " + config_.bucket + "/" + full_key + "?uploadId";
    if (!page) throw S3Error(S3ErrorKind::kBadAnswer, what + ": not a <ListPartsResult>", 200);
    for (S3Part& part : page->parts) parts.push_back(std::move(part));
    if (page->next_part_number_marker == 0) return parts;
    if (page->next_part_number_marker <= marker) {
      throw S3Error(S3ErrorKind::kBadAnswer, what + ": the part marker does not advance", 200);
    }
    marker = page->next_part_number_marker;
  }
  throw S3Error(S3ErrorKind::kBadAnswer,
                "S3 GET " + config_.bucket + "/" + full_key + "?uploadId: more than 11 pages");
}

}  // namespace kura::store
