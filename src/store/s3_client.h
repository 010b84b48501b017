// A synchronous client for the part of the S3 API that kura's blob store uses (objects, listings,
// multipart uploads), for any S3-compatible store: Ceph's radosgw, MinIO, AWS.
//
// Requests go through libcurl, loaded at run time (store/libcurl_api.h), and are signed by it
// (CURLOPT_AWS_SIGV4, AWS Signature Version 4). Connections are kept alive in a small pool of
// libcurl handles. Idempotent requests are retried with exponential backoff when the store does not
// answer or answers 5xx; CompleteMultipartUpload is retried only after checking whether the failed
// attempt completed the upload. Keys are relative to S3Config::prefix.
//
// Errors are thrown as S3Error (S3Unavailable for the kind the caller should answer 503 to); "no
// such object" is a return value where a caller tests for it (GetObject, HeadObject).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/s3_xml.h"

namespace kura::store {

struct LibcurlApi;

struct S3Config {
  // "http://host:port" or "https://host[:port]": a scheme and an authority, nothing after.
  std::string endpoint;
  std::string bucket;
  // Put before every key, as is ("kura/" gives "kura/<key>"); may be empty.
  std::string prefix;
  // Signs requests. Empty means us-east-1. radosgw accepts any name (scripts/ceph-up.sh uses
  // "default"); AWS wants the bucket's region.
  std::string region;
  std::string access_key;
  std::string secret_key;
  // Temporary credentials' token, sent (and signed) as x-amz-security-token; may be empty.
  std::string session_token;
  // true: endpoint/bucket/key (radosgw, MinIO). false: bucket.host/key (virtual-hosted, AWS).
  bool path_style = true;

  // true: the SHA-256 of each uploaded body is signed, and the store checks the bytes against it;
  // false: bodies over 64 KiB are sent as UNSIGNED-PAYLOAD (saves hashing them, ~0.8 s of CPU a
  // GiB; for https or loopback).
  bool sign_payload = true;
  // A CA bundle for https instead of libcurl's default; empty for the default.
  std::string ca_file;
  // Idle connections kept for reuse; more may be open while more threads make requests at once.
  int max_idle_connections = 16;
  // Tries of an idempotent request, the first included.
  int max_attempts = 4;
  // The wait before the first retry, doubled at each retry up to max_retry_delay; each wait is
  // drawn between half of it and all of it (jitter), so that clients do not retry in step.
  std::chrono::milliseconds first_retry_delay{100};
  std::chrono::milliseconds max_retry_delay{2000};
  std::chrono::milliseconds connect_timeout{5000};
  // A transfer moving fewer than low_speed_bytes a second for low_speed_time fails (kUnavailable)
  // rather than hanging on a stalled connection. There is no bound on a transfer that moves.
  long low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{30};
  // A part copied on the store's side (UploadPartCopy) moves no bytes on the connection until
  // the store has copied it, so the low-speed limit cannot tell a slow copy from a stalled one:
  // such a request fails (kUnavailable, then retried) after low_speed_time plus its bytes at this
  // many a second instead (4 MiB/s: a 1 GiB part is given 4 min 46 s).
  uint64_t copy_bytes_per_second = 4 << 20;
};

// `config` with its empty fields filled from the environment, as AWS's tools read it:
// access_key from AWS_ACCESS_KEY_ID, secret_key from AWS_SECRET_ACCESS_KEY, session_token from
// AWS_SESSION_TOKEN, region from AWS_REGION or else AWS_DEFAULT_REGION, endpoint from
// AWS_ENDPOINT_URL_S3 or else AWS_ENDPOINT_URL. Fields already set are kept; unset variables leave
// fields empty.
S3Config S3ConfigFromEnvironment(S3Config config = {});

enum class S3ErrorKind {
  kNotFound,            // 404: NoSuchKey, NoSuchUpload, NoSuchBucket
  kUnavailable,         // no answer (cannot connect, timeout, reset, stalled) or 5xx, after the
                        // retries: the store is down or overloaded; try again later
  kStorageFull,         // the store takes no more: QuotaExceeded, EntityTooLarge, 507
  kAccessDenied,        // 401/403: SignatureDoesNotMatch, InvalidAccessKeyId, AccessDenied,...
  kInvalidRange,        // 416: the range starts at or past the object's end
  kPreconditionFailed,  // 412: the object changed while a GET was resuming
  kRejected,            // any other error answer (400, 409...), or a request refused before it
                        // was sent (an empty or overlong key, a part number out of 1..10,000)
  kBadAnswer,           // an answer that cannot be read: malformed XML, over its size cap
};

// "not found", "unavailable", ... for messages.
std::string_view S3ErrorKindName(S3ErrorKind kind);

// A failed S3 request. what() names the method, bucket and full key, then the answer or curl's
// failure: "S3 GET kura-tests/blobs/ab: 403 SignatureDoesNotMatch (request tx00...)", "S3 HEAD
// b/k: Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server (4
// attempts)". It never holds credentials.
class S3Error : public std::runtime_error {
 public:
  S3Error(S3ErrorKind kind, const std::string& what, int status = 0, std::string code = {},
          std::string s3_message = {}, std::string request_id = {});

  S3ErrorKind kind() const { return kind_; }
  // The HTTP status, 0 when there was no answer.
  int status() const { return status_; }
  // S3's <Code>, e.g. "NoSuchKey"; empty when the answer had none (HEAD, no answer).
  const std::string& code() const { return code_; }
  // S3's <Message>; often empty (radosgw).
  const std::string& s3_message() const { return s3_message_; }
  const std::string& request_id() const { return request_id_; }

 private:
  S3ErrorKind kind_;
  int status_;
  std::string code_;
  std::string s3_message_;
  std::string request_id_;
};

// The S3Error of kind kUnavailable: every error of that kind is thrown as this class, so a caller
// can catch it alone.
class S3Unavailable final : public S3Error {
 public:
  explicit S3Unavailable(const std::string& what, int status = 0, std::string code = {},
                         std::string s3_message = {}, std::string request_id = {})
      : S3Error(S3ErrorKind::kUnavailable, what, status, std::move(code), std::move(s3_message),
                std::move(request_id)) {}
};

// Bytes `first` to `last` of an object, both included (HTTP's Range); without `last`, to the end.
struct ByteRange {
  ByteRange() = default;
  explicit ByteRange(uint64_t first_byte) : first(first_byte) {}
  ByteRange(uint64_t first_byte, uint64_t last_byte) : first(first_byte), last(last_byte) {}

  uint64_t first = 0;
  std::optional<uint64_t> last;
};

struct ObjectInfo {
  uint64_t size = 0;
  std::string etag;  // quotes removed
};

// Receives an object's bytes in order, in pieces of any size. It may throw to stop the transfer:
// the exception then comes out of GetObject as it was thrown.
using ByteSink = std::function<void(std::string_view piece)>;

// A part to assemble, as UploadPart returned its ETag.
struct CompletedPart {
  int number = 0;
  std::string etag;
};

struct S3ClientStats {
  uint64_t requests = 0;     // HTTP requests sent, retries included
  uint64_t retries = 0;      // of which retries
  uint64_t connections = 0;  // TCP connections opened
};

// Thread-safe: every method may be called from any number of threads at once. Every method
// blocks until the store answers, the retries are spent, or a transfer stalls (see S3Config).
// Keys are relative to S3Config::prefix; the full key must be 1 to 1,024 bytes (S3's limit),
// any bytes, '/' included.
class S3Client {
 public:
  // Loads libcurl (throws std::runtime_error "cannot load libcurl.so.4: ..." when it is missing).
  // Throws std::invalid_argument when the endpoint is not http[s]://host[:port], or the bucket,
  // access key or secret key is empty. Sends nothing.
  explicit S3Client(S3Config config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Config& config() const { return config_; }

  // Creates the bucket; done when it exists and is ours already. Sends the region as its
  // LocationConstraint unless it is us-east-1.
  void CreateBucketIfMissing();

  // Stores `data` as the object `key`, replacing any object of that key. Returns its ETag.
  // Retried: the same bytes again.
  std::string PutObject(std::string_view key, std::string_view data);

  // Streams the object's bytes (or those of `range`) into `sink` as they arrive; never holds the
  // object in memory. Returns false when there is no such object (the sink got nothing). A
  // transfer cut short is resumed where it stopped, if the object is still the same (If-Match
  // its ETag; kPreconditionFailed if it changed). Throws kInvalidRange when the range starts
  // at or past the end (a range on an empty object included), kNotFound when the bucket is
  // missing.
  bool GetObject(std::string_view key, const ByteSink& sink,
                 std::optional<ByteRange> range = std::nullopt);

  // The object's bytes (or those of `range`) in memory; nullopt when there is no such object.
  // For small objects only: GetObject streams.
  std::optional<std::string> GetObjectBytes(std::string_view key,
                                            std::optional<ByteRange> range = std::nullopt);

  // The object's size and ETag; nullopt when there is no such object (or no such bucket: a HEAD
  // answer cannot tell them apart).
  std::optional<ObjectInfo> HeadObject(std::string_view key);

  // Removes the object; done too when there was none.
  void DeleteObject(std::string_view key);

  // Copies the object `from_key` to `to_key` in the bucket, on the store's side. Returns the new
  // object's ETag. kNotFound when `from_key` does not exist. S3 copies at most 5 GiB this way;
  // larger objects are copied in parts (UploadPartCopy).
  std::string CopyObject(std::string_view from_key, std::string_view to_key);

  // One page (up to `max_keys`, 1..1,000) of the objects whose key starts with `prefix`, in key
  // order, keys relative to S3Config::prefix. Pass the page's next_continuation_token to get the
  // next page; it is empty on the last one. The answer may be 1 MiB at most (kBadAnswer beyond).
  S3ObjectPage ListObjects(std::string_view prefix, std::string_view continuation_token = {},
                           int max_keys = 1000);

  // Starts a multipart upload of `key`; returns its upload id. Not retried (each try would start
  // another upload), except when it could not connect.
  std::string CreateMultipartUpload(std::string_view key);

  // Uploads part `part_number` (1..10,000) of the upload; returns its ETag. Every part but the
  // last must be 5 MiB at least (checked by the store at completion). Retried: the same bytes.
  std::string UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                         std::string_view data);

  // Uploads part `part_number` (1..10,000) of the upload as bytes `range` (first to last, both
  // included: x-amz-copy-source-range) of the object `from_key` in the bucket, copied on the
  // store's side; returns the part's ETag. S3 copies at most 5 GiB a part; every part but the
  // last must be 5 MiB at least. With `source_etag`, the copy is made only from the object of
  // that ETag (x-amz-copy-source-if-match; kPreconditionFailed for another). kNotFound when the
  // upload or the source does not exist, kInvalidRange when the range is not within the source.
  // Bounded by a deadline instead of the low-speed limit (S3Config::copy_bytes_per_second).
  // Retried: copying the same bytes again has the effect of once.
  std::string UploadPartCopy(std::string_view key, std::string_view upload_id, int part_number,
                             std::string_view from_key, ByteRange range,
                             std::string_view source_etag = {});

  // Assembles the parts (in increasing part number, 1 at least) into the object `key`; returns
  // its ETag (from a HEAD of the object when the answer leaves it empty, as radosgw 16's does).
  // When an attempt fails without an answer, or with a 5xx, it checks whether that
  // attempt completed the upload (the upload is gone and the object has the ETag these parts
  // make) before it tries again. kNotFound when there is no such upload.
  std::string CompleteMultipartUpload(std::string_view key, std::string_view upload_id,
                                      const std::vector<CompletedPart>& parts);

  // Aborts the upload and frees its parts; done too when there is no such upload any more.
  void AbortMultipartUpload(std::string_view key, std::string_view upload_id);

  // The parts uploaded so far, in part number order (every page of ListParts).
  // kNotFound when there is no such upload.
  std::vector<S3Part> ListParts(std::string_view key, std::string_view upload_id);

  // Counters since construction.
  S3ClientStats stats() const;

 private:
  struct Request;
  struct Response;
  struct Download;
  struct Outcome;
  struct Transfer;
  class Handles;

  // Sends the request, again while that may help (S3Config::max_attempts); the response to a
  // 2xx, or throws S3Error.
  Response Call(const Request& request);
  Outcome CallOnce(const Request& request, const std::string& payload_hash, Download& download);
  std::string FullKey(std::string_view key) const;
  std::string Url(const Request& request) const;
  void Backoff(int attempt) const;
  bool UploadExists(const std::string& full_key, std::string_view upload_id);

  S3Config config_;
  const LibcurlApi& curl_;
  std::string scheme_;     // "http" or "https"
  std::string authority_;  // "host:port"
  std::string sigv4_;      // "aws:amz:<region>:s3"
  std::unique_ptr<Handles> handles_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> connections_{0};
};

}  // namespace kura::store
