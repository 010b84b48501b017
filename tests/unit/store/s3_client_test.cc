// S3Client (store/s3_client.h), in two halves.
//
// S3GatewayTest runs against a real S3 gateway, named by the environment variable KURA_TEST_S3:
// the path of a file of `export NAME=value` lines, as scripts/ceph-up.sh writes (DIR/s3.env):
//   AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (or AWS_DEFAULT_REGION);
//   optionally KURA_TEST_S3_BUCKET (default "kura-tests", created if missing) and
//   KURA_S3_QUOTA_ACCESS_KEY_ID / KURA_S3_QUOTA_SECRET_ACCESS_KEY, a user whose quota a 2 MiB
//   object exceeds (the storage-full test skips without it).
// For example:
//   scripts/ceph-up.sh /tmp/ceph && KURA_TEST_S3=/tmp/ceph/s3.env build/kura_tests
//   --gtest_filter='S3*' scripts/ceph-down.sh /tmp/ceph --purge
// Without KURA_TEST_S3 those tests skip, saying so. Each test works under its own random prefix
// in the bucket and deletes what it made.
//
// S3ClientFaultTest needs no gateway: a scripted server (scripted_http_server.h) fails in the
// ways a store does (503, a body cut short, a lost answer, silence) to test retries, resumed
// GETs, the check before completing an upload again, and the timeouts.
#include "store/s3_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "core/digest.h"
#include "store/s3_test_gateway.h"
#include "store/scripted_http_server.h"

namespace kura::store {
namespace {

using Clock = std::chrono::steady_clock;
using kura::testing::ScriptedHttpServer;

constexpr char kHowToSet[] =
    "KURA_TEST_S3 is not set: start a gateway with scripts/ceph-up.sh DIR and set "
    "KURA_TEST_S3=DIR/s3.env to run the S3 gateway tests";

std::string RandomHex(int bytes) {
  static std::mt19937_64 random(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < bytes; ++i) {
    auto b = static_cast<unsigned>(random() & 0xFF);
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = random();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return out;
}

// A port on 127.0.0.1 where nothing listens.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string Sha256Hex(std::string_view data) {
  return std::string(core::Sha256Of(data).hex());
}

template <typename F>
S3Error ErrorOf(F&& f) {
  try {
    f();
  } catch (const S3Error& e) {
    return e;
  }
  ADD_FAILURE() << "no S3Error thrown";
  return S3Error(S3ErrorKind::kRejected, "none");
}

class S3GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<Gateway> gateway = GatewayFromEnvironment();
    if (!gateway) GTEST_SKIP() << kHowToSet;
    gateway_ = *gateway;
    gateway_.config.prefix = "s3-client-test/" + RandomHex(8) + "/";
    client_ = std::make_unique<S3Client>(gateway_.config);
    client_->CreateBucketIfMissing();
  }

  void TearDown() override {
    if (!client_) return;
    for (const auto& [key, id] : uploads_) client_->AbortMultipartUpload(key, id);
    std::string token;
    int left = 0;
    do {
      S3ObjectPage page = client_->ListObjects("", token);
      for (const S3Object& o : page.objects) client_->DeleteObject(o.key);
      token = page.next_continuation_token;
    } while (!token.empty());
    left = static_cast<int>(client_->ListObjects("").objects.size());
    EXPECT_EQ(left, 0) << "objects left under " << gateway_.config.prefix;
  }

  std::string StartUpload(const std::string& key) {
    std::string id = client_->CreateMultipartUpload(key);
    uploads_.emplace_back(key, id);
    return id;
  }

  std::string Get(const std::string& key, std::optional<ByteRange> range = std::nullopt) {
    std::optional<std::string> bytes = client_->GetObjectBytes(key, range);
    EXPECT_TRUE(bytes) << key;
    return bytes.value_or("");
  }

  Gateway gateway_;
  std::unique_ptr<S3Client> client_;
  std::vector<std::pair<std::string, std::string>> uploads_;
};

TEST_F(S3GatewayTest, PutGetHeadDelete) {
  std::string etag = client_->PutObject("blob", "hello world");
  EXPECT_EQ(etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");  // the MD5 of the bytes
  std::optional<ObjectInfo> info = client_->HeadObject("blob");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 11u);
  EXPECT_EQ(info->etag, etag);
  EXPECT_EQ(Get("blob"), "hello world");

  client_->PutObject("blob", "replaced");
  EXPECT_EQ(Get("blob"), "replaced");

  client_->DeleteObject("blob");
  EXPECT_FALSE(client_->HeadObject("blob"));
  bool called = false;
  EXPECT_FALSE(client_->GetObject("blob", [&](std::string_view) { called = true; }));
  EXPECT_FALSE(called);
  client_->DeleteObject("blob");  // no object: still done
}

TEST_F(S3GatewayTest, EmptyObject) {
  client_->PutObject("empty", "");
  EXPECT_EQ(client_->HeadObject("empty")->size, 0u);
  EXPECT_EQ(Get("empty"), "");
  EXPECT_EQ(ErrorOf([&] { client_->GetObjectBytes("empty", ByteRange{0}); }).kind(),
            S3ErrorKind::kInvalidRange);
}

TEST_F(S3GatewayTest, RangedGets) {
  std::string data = RandomBytes(1000, 1);
  client_->PutObject("r", data);
  EXPECT_EQ(Get("r", ByteRange{0, 0}), data.substr(0, 1));
  EXPECT_EQ(Get("r", ByteRange{500, 509}), data.substr(500, 10));
  EXPECT_EQ(Get("r", ByteRange{999, 999}), data.substr(999));
  EXPECT_EQ(Get("r", ByteRange{990}), data.substr(990));
  EXPECT_EQ(Get("r", ByteRange{995, 5000}), data.substr(995));  // cut at the end, as HTTP does
  for (ByteRange past : {ByteRange{1000}, ByteRange{1000, 1000}, ByteRange{5000, 6000}}) {
    S3Error e = ErrorOf([&] { client_->GetObjectBytes("r", past); });
    EXPECT_EQ(e.kind(), S3ErrorKind::kInvalidRange) << e.what();
    EXPECT_EQ(e.status(), 416);
    EXPECT_EQ(e.code(), "InvalidRange");
  }
  EXPECT_FALSE(client_->GetObjectBytes("missing", ByteRange{0, 0}));
}

TEST_F(S3GatewayTest, KeysWithOddCharacters) {
  const std::vector<std::string> keys = {
      "sha256:ab/cd",
      "a+b",
      "with space",
      "50%25%",
      "q?x=1&y=2#f",
      "semi;colon,",
      "tilde~!*'()$@",
      "dir/../up",
      "a//b/./c",
      "caf\xC3\xA9",
      "\xE2\x82\xAC/\xF0\x9F\x90\xB3",
      "trailing/",
      "[brackets]{}",
      "back\\slash",
      "^`|\"<>",
      std::string("tab\tnl\n"),
  };
  for (size_t i = 0; i < keys.size(); ++i) client_->PutObject(keys[i], "v" + std::to_string(i));
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(Get(keys[i]), "v" + std::to_string(i)) << keys[i];
    ASSERT_TRUE(client_->HeadObject(keys[i])) << keys[i];
  }
  std::vector<std::string> listed;
  for (const S3Object& o : client_->ListObjects("").objects) listed.push_back(o.key);
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(listed, sorted);
  std::string copied = client_->CopyObject("sha256:ab/cd", "copy of a+b");
  EXPECT_EQ(Get("copy of a+b"), "v0");
  EXPECT_EQ(copied, client_->HeadObject("sha256:ab/cd")->etag);
}

TEST_F(S3GatewayTest, CopyOfAMissingObjectIsNotFound) {
  S3Error e = ErrorOf([&] { client_->CopyObject("missing", "to"); });
  EXPECT_EQ(e.kind(), S3ErrorKind::kNotFound) << e.what();
  EXPECT_EQ(e.code(), "NoSuchKey");
}

TEST_F(S3GatewayTest, ListsPageByPage) {
  for (int i = 0; i < 7; ++i) {
    client_->PutObject("blobs/" + std::to_string(i), std::string(static_cast<size_t>(i), 'x'));
  }
  client_->PutObject("other", "not listed under blobs/");
  std::vector<S3Object> all;
  std::string token;
  int pages = 0;
  do {
    S3ObjectPage page = client_->ListObjects("blobs/", token, 3);
    EXPECT_LE(page.objects.size(), 3u);
    all.insert(all.end(), page.objects.begin(), page.objects.end());
    token = page.next_continuation_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(all.size(), 7u);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(all[i].key, "blobs/" + std::to_string(i));
    EXPECT_EQ(all[i].size, static_cast<uint64_t>(i));
  }
  EXPECT_EQ(client_->ListObjects("").objects.size(), 8u);
  EXPECT_TRUE(client_->ListObjects("nothing-here/").objects.empty());
}

TEST_F(S3GatewayTest, MultipartUpload) {
  const size_t kPart = 5 * 1024 * 1024;
  std::vector<std::string> parts = {RandomBytes(kPart, 10), RandomBytes(kPart, 11),
                                    RandomBytes(kPart, 12), RandomBytes(123457, 13)};
  std::string whole = parts[0] + parts[1] + parts[2] + parts[3];
  std::string id = StartUpload("big/blob");
  std::vector<CompletedPart> done;
  for (int n = 1; n <= 4; ++n) {
    done.push_back({n, client_->UploadPart("big/blob", id, n, parts[n - 1])});
  }
  std::vector<S3Part> listed = client_->ListParts("big/blob", id);
  ASSERT_EQ(listed.size(), 4u);
  for (int n = 1; n <= 4; ++n) {
    EXPECT_EQ(listed[n - 1].number, n);
    EXPECT_EQ(listed[n - 1].etag, done[n - 1].etag);
    EXPECT_EQ(listed[n - 1].size, parts[n - 1].size());
  }
  EXPECT_FALSE(client_->HeadObject("big/blob"));  // nothing visible before completion

  std::string etag = client_->CompleteMultipartUpload("big/blob", id, done);
  EXPECT_TRUE(etag.ends_with("-4")) << etag;
  std::optional<ObjectInfo> info = client_->HeadObject("big/blob");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, whole.size());
  EXPECT_EQ(info->etag, etag);

  // Streamed, not held: the sink sees pieces, hashed as they come.
  core::Sha256 hash;
  size_t pieces = 0;
  ASSERT_TRUE(client_->GetObject("big/blob", [&](std::string_view piece) {
    hash.Update(piece);
    ++pieces;
  }));
  EXPECT_EQ(hash.bytes(), whole.size());
  EXPECT_EQ(std::string(hash.Finish().hex()), Sha256Hex(whole));
  EXPECT_GT(pieces, 1u);
  // A range across the parts' boundary.
  EXPECT_EQ(Get("big/blob", ByteRange{kPart - 3, kPart + 2}), whole.substr(kPart - 3, 6));
  EXPECT_EQ(ErrorOf([&] { client_->ListParts("big/blob", id); }).kind(), S3ErrorKind::kNotFound);
}

TEST_F(S3GatewayTest, AbortFreesTheUpload) {
  std::string id = StartUpload("aborted");
  std::string etag = client_->UploadPart("aborted", id, 1, RandomBytes(1024, 2));
  ASSERT_EQ(client_->ListParts("aborted", id).size(), 1u);
  client_->AbortMultipartUpload("aborted", id);
  S3Error e = ErrorOf([&] { client_->ListParts("aborted", id); });
  EXPECT_EQ(e.kind(), S3ErrorKind::kNotFound);
  // AWS says NoSuchUpload; radosgw 16 NoSuchKey.
  EXPECT_TRUE(e.code() == "NoSuchUpload" || e.code() == "NoSuchKey") << e.what();
  EXPECT_EQ(ErrorOf([&] {
              client_->CompleteMultipartUpload("aborted", id, {{1, etag}});
            }).kind(),
            S3ErrorKind::kNotFound);
  EXPECT_FALSE(client_->HeadObject("aborted"));
  client_->AbortMultipartUpload("aborted", id);  // gone already: still done
}

TEST_F(S3GatewayTest, CompleteRefusesWrongParts) {
  std::string id = StartUpload("wrong");
  client_->UploadPart("wrong", id, 1, "tiny");
  S3Error e = ErrorOf([&] {
    client_->CompleteMultipartUpload("wrong", id, {{1, "0123456789abcdef0123456789abcdef"}});
  });
  EXPECT_EQ(e.kind(), S3ErrorKind::kRejected) << e.what();
  EXPECT_EQ(e.code(), "InvalidPart");
  // Parts out of order never leave the client.
  EXPECT_EQ(ErrorOf([&] {
              client_->CompleteMultipartUpload("wrong", id, {{2, "a"}, {1, "b"}});
            }).kind(),
            S3ErrorKind::kRejected);
}

TEST_F(S3GatewayTest, WrongSecretKeyIsSignatureDoesNotMatch) {
  S3Config config = gateway_.config;
  config.secret_key = "not-the-secret";
  S3Client wrong(config);
  S3Error e = ErrorOf([&] { wrong.PutObject("x", "y"); });
  EXPECT_EQ(e.kind(), S3ErrorKind::kAccessDenied);
  EXPECT_EQ(e.status(), 403);
  EXPECT_EQ(e.code(), "SignatureDoesNotMatch");
  EXPECT_NE(std::string(e.what()).find("SignatureDoesNotMatch"), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find("not-the-secret"), std::string::npos) << e.what();
  EXPECT_EQ(wrong.stats().requests, 1u);  // not retried
}

TEST_F(S3GatewayTest, UnknownAccessKeyIsInvalidAccessKeyId) {
  S3Config config = gateway_.config;
  config.access_key = "NOSUCHKEY0000000000";
  S3Client wrong(config);
  S3Error e = ErrorOf([&] { wrong.HeadObject("x"); });  // a HEAD: no body, status only
  EXPECT_EQ(e.kind(), S3ErrorKind::kAccessDenied);
  e = ErrorOf([&] { wrong.GetObjectBytes("x"); });
  EXPECT_EQ(e.kind(), S3ErrorKind::kAccessDenied);
  EXPECT_EQ(e.code(), "InvalidAccessKeyId") << e.what();
}

TEST_F(S3GatewayTest, QuotaExceededIsStorageFull) {
  if (gateway_.quota_access_key.empty()) {
    GTEST_SKIP() << "KURA_S3_QUOTA_ACCESS_KEY_ID is not in KURA_TEST_S3's file";
  }
  S3Config config = gateway_.config;
  config.access_key = gateway_.quota_access_key;
  config.secret_key = gateway_.quota_secret_key;
  config.bucket = "kura-tests-quota";
  S3Client limited(config);
  limited.CreateBucketIfMissing();
  S3Error e = ErrorOf([&] { limited.PutObject("too-big", RandomBytes(2 << 20, 3)); });
  EXPECT_EQ(e.kind(), S3ErrorKind::kStorageFull) << e.what();
  EXPECT_EQ(e.code(), "QuotaExceeded");
  EXPECT_FALSE(limited.HeadObject("too-big"));
}

TEST_F(S3GatewayTest, SinkExceptionStopsTheTransfer) {
  client_->PutObject("s", RandomBytes(4 << 20, 4));
  EXPECT_THROW(client_->GetObject("s", [](std::string_view) { throw std::logic_error("enough"); }),
               std::logic_error);
  EXPECT_EQ(Get("s").size(), 4u << 20);  // the handle went back to the pool in a usable state
}

TEST_F(S3GatewayTest, EightThreadsShareThePool) {
  constexpr int kThreads = 8, kRounds = 12;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
        std::string data = RandomBytes(1000 + static_cast<size_t>((t * 7919 + i * 104729) % 300000),
                                       static_cast<uint64_t>(t * 1000 + i));
        try {
          client_->PutObject(key, data);
          if (client_->GetObjectBytes(key) != data) ++failures;
          if (client_->HeadObject(key)->size != data.size()) ++failures;
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  S3ClientStats stats = client_->stats();
  EXPECT_GE(stats.requests, 3u * kThreads * kRounds);
  // Kept alive: about one connection a thread, not one a request.
  EXPECT_LE(stats.connections, 2u * kThreads + 2) << stats.requests << " requests";
  EXPECT_EQ(client_->ListObjects("").objects.size(), static_cast<size_t>(kThreads * kRounds));
}

TEST_F(S3GatewayTest, ConnectionsAreReused) {
  uint64_t before = client_->stats().connections;
  for (int i = 0; i < 20; ++i) client_->PutObject("k", std::to_string(i));
  EXPECT_LE(client_->stats().connections - before, 1u);
}

// --- without a gateway ---------------------------------------------------------------------------

S3Config FakeConfig(const std::string& endpoint) {
  S3Config config;
  config.endpoint = endpoint;
  config.bucket = "b";
  config.access_key = "AK";
  config.secret_key = "SK";
  config.region = "r";
  config.first_retry_delay = std::chrono::milliseconds(1);
  config.max_retry_delay = std::chrono::milliseconds(5);
  return config;
}

std::string ErrorXml(const std::string& code) {
  return "<?xml version=\"1.0\"?><Error><Code>" + code +
         "</Code><Message>m</Message>"
         "<RequestId>tx1</RequestId></Error>";
}

size_t Count(const std::vector<std::string>& requests, const std::string& start) {
  return static_cast<size_t>(
      std::count_if(requests.begin(), requests.end(),
                    [&](const std::string& r) { return r.starts_with(start); }));
}

TEST(S3ClientFaultTest, GatewayDownIsUnavailableSoon) {
  S3Config config = FakeConfig("http://127.0.0.1:" + std::to_string(ClosedPort()));
  config.first_retry_delay = S3Config{}.first_retry_delay;  // the real waits: ~0.35-0.7 s in all
  config.max_retry_delay = S3Config{}.max_retry_delay;
  S3Client client(config);
  auto start = Clock::now();
  EXPECT_THROW(client.PutObject("k", "v"), S3Unavailable);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(client.stats().requests, 4u);  // max_attempts
  S3Error e = ErrorOf([&] { client.HeadObject("k"); });
  EXPECT_EQ(e.kind(), S3ErrorKind::kUnavailable);
  EXPECT_EQ(e.status(), 0);
  EXPECT_NE(std::string(e.what()).find("4 attempts"), std::string::npos) << e.what();
  std::cout << "  e.g.: " << e.what() << "\n";
  // Not even connected: safe to send again, though starting an upload is not idempotent.
  uint64_t before = client.stats().requests;
  EXPECT_THROW(client.CreateMultipartUpload("k"), S3Unavailable);
  EXPECT_EQ(client.stats().requests - before, 4u);
}

TEST(S3ClientFaultTest, StalledAnswerFailsInsteadOfHanging) {
  ScriptedHttpServer server({{"", false, true}, {"", false, true}});
  S3Config config = FakeConfig(server.endpoint());
  config.max_attempts = 2;
  config.low_speed_time = std::chrono::seconds(1);
  S3Client client(config);
  auto start = Clock::now();
  EXPECT_THROW(client.GetObjectBytes("k"), S3Unavailable);
  auto took = Clock::now() - start;
  EXPECT_GE(took, std::chrono::seconds(2));
  EXPECT_LT(took, std::chrono::seconds(6));
}

TEST(S3ClientFaultTest, RetriesA503WithTheSameBytes) {
  ScriptedHttpServer server({{ScriptedHttpServer::Http(503, ErrorXml("SlowDown"))},
                             {ScriptedHttpServer::Http(500, ErrorXml("InternalError"))},
                             {ScriptedHttpServer::Http(200, "", "ETag: \"e1\"\r\n")}});
  S3Client client(FakeConfig(server.endpoint()));
  EXPECT_EQ(client.PutObject("dir/k", "payload"), "e1");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const std::string& r : requests) {
    EXPECT_TRUE(r.starts_with("PUT /b/dir/k HTTP/1.1\r\n")) << r;
    EXPECT_TRUE(r.ends_with("\r\n\r\npayload")) << r;
    EXPECT_NE(r.find("x-amz-content-sha256: " + Sha256Hex("payload")), std::string::npos) << r;
    EXPECT_NE(r.find("Authorization: AWS4-HMAC-SHA256 Credential=AK/"), std::string::npos);
  }
  EXPECT_EQ(client.stats().retries, 2u);
}

TEST(S3ClientFaultTest, DoesNotRetryWhatMayHaveHappened) {
  ScriptedHttpServer server({{ScriptedHttpServer::Http(503, ErrorXml("SlowDown"))},
                             {ScriptedHttpServer::Http(404, ErrorXml("NoSuchKey"))}});
  S3Client client(FakeConfig(server.endpoint()));
  S3Error e = ErrorOf([&] { client.CreateMultipartUpload("k"); });
  EXPECT_EQ(e.kind(), S3ErrorKind::kUnavailable);
  EXPECT_EQ(e.code(), "SlowDown");
  EXPECT_EQ(server.requests().size(), 1u);
  // And a 4xx is the answer: no retry.
  EXPECT_FALSE(client.GetObjectBytes("k"));
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(S3ClientFaultTest, ResumesACutGetWhereItStopped) {
  ScriptedHttpServer server(
      {{"HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: 10\r\n\r\n0123", true},
       {ScriptedHttpServer::Http(206, "456789",
                                 "ETag: \"v1\"\r\nContent-Range: bytes 4-9/10\r\n")}});
  S3Client client(FakeConfig(server.endpoint()));
  std::string got;
  ASSERT_TRUE(client.GetObject("k", [&](std::string_view piece) { got.append(piece); }));
  EXPECT_EQ(got, "0123456789");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].find("Range:"), std::string::npos);
  EXPECT_NE(requests[1].find("\r\nRange: bytes=4-\r\n"), std::string::npos) << requests[1];
  EXPECT_NE(requests[1].find("\r\nIf-Match: \"v1\"\r\n"), std::string::npos) << requests[1];
}

TEST(S3ClientFaultTest, ResumesARangedGetWithinItsRange) {
  ScriptedHttpServer server(
      {{"HTTP/1.1 206 OK\r\nETag: \"v1\"\r\nContent-Length: 6\r\n\r\n23", true},
       {ScriptedHttpServer::Http(206, "4567", "ETag: \"v1\"\r\n")}});
  S3Client client(FakeConfig(server.endpoint()));
  EXPECT_EQ(client.GetObjectBytes("k", ByteRange{2, 7}), "234567");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[0].find("\r\nRange: bytes=2-7\r\n"), std::string::npos);
  EXPECT_NE(requests[1].find("\r\nRange: bytes=4-7\r\n"), std::string::npos);
}

TEST(S3ClientFaultTest, AChangedObjectIsNotResumed) {
  ScriptedHttpServer server(
      {{"HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: 10\r\n\r\n0123", true},
       {ScriptedHttpServer::Http(412, ErrorXml("PreconditionFailed"))}});
  S3Client client(FakeConfig(server.endpoint()));
  S3Error e = ErrorOf([&] { client.GetObject("k", [](std::string_view) {}); });
  EXPECT_EQ(e.kind(), S3ErrorKind::kPreconditionFailed) << e.what();
}

TEST(S3ClientFaultTest, AStoreIgnoringIfMatchCannotSpliceAnotherObject) {
  ScriptedHttpServer server(
      {{"HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: 10\r\n\r\n0123", true},
       {ScriptedHttpServer::Http(206, "ABCDEF", "ETag: \"v2\"\r\n")}});
  S3Client client(FakeConfig(server.endpoint()));
  std::string got;
  S3Error e = ErrorOf([&] { client.GetObject("k", [&](std::string_view p) { got += p; }); });
  EXPECT_EQ(e.kind(), S3ErrorKind::kPreconditionFailed) << e.what();
  EXPECT_EQ(got, "0123");
}

TEST(S3ClientFaultTest, AWholeAnswerToARangeIsRefused) {
  ScriptedHttpServer server({{ScriptedHttpServer::Http(200, "0123456789")}});
  S3Client client(FakeConfig(server.endpoint()));
  std::string got;
  S3Error e = ErrorOf([&] {
    client.GetObject(
        "k", [&](std::string_view p) { got += p; }, ByteRange{5});
  });
  EXPECT_EQ(e.kind(), S3ErrorKind::kBadAnswer) << e.what();
  EXPECT_EQ(got, "");
}

const char kCompleted[] =
    "<CompleteMultipartUploadResult><ETag>\"final-2\"</ETag></CompleteMultipartUploadResult>";

TEST(S3ClientFaultTest, ALostCompleteIsCheckedNotResent) {
  // The first Complete gets no answer; the upload is gone and the object has the ETag of these
  // parts: that attempt did it. md5(md5("a") md5("b")) = the ETag of an upload of "a", "b".
  std::vector<CompletedPart> parts = {{1, "0cc175b9c0f1b6a831c399e269772661"},
                                      {2, "92eb5ffee6ae2fec3ad71c777531578f"}};
  const std::string expected = "96e024ba2074fe77e8e965ba43a704be-2";
  ScriptedHttpServer server(
      {{"", true},  // closed without an answer
       {ScriptedHttpServer::Http(404, ErrorXml("NoSuchUpload"))},
       {ScriptedHttpServer::Http(200, "", "ETag: \"" + expected + "\"\r\n")}});
  S3Client client(FakeConfig(server.endpoint()));
  EXPECT_EQ(client.CompleteMultipartUpload("k", "up1", parts), expected);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(Count(requests, "POST /b/k?uploadId=up1 "), 1u);
  EXPECT_TRUE(requests[1].starts_with("GET /b/k?max-parts=1&uploadId=up1 ")) << requests[1];
  EXPECT_TRUE(requests[2].starts_with("HEAD /b/k ")) << requests[2];
  EXPECT_NE(requests[0].find("<Part><PartNumber>1</PartNumber><ETag>\"0cc175b9c0f1b6a831c399e2697"
                             "72661\"</ETag></Part>"),
            std::string::npos);
}

TEST(S3ClientFaultTest, ALostCompleteOfAnUploadStillThereIsSentAgain) {
  ScriptedHttpServer server(
      {{"", true},
       {ScriptedHttpServer::Http(200,
                                 "<ListPartsResult><IsTruncated>false</IsTruncated>"
                                 "</ListPartsResult>")},
       {ScriptedHttpServer::Http(200, kCompleted)}});
  S3Client client(FakeConfig(server.endpoint()));
  EXPECT_EQ(client.CompleteMultipartUpload("k", "up1", {{1, "aa"}, {2, "bb"}}), "final-2");
  EXPECT_EQ(Count(server.requests(), "POST /b/k?uploadId=up1 "), 2u);
}

TEST(S3ClientFaultTest, AnErrorInsideA200CompleteIsRetriedAfterTheCheck) {
  ScriptedHttpServer server({{ScriptedHttpServer::Http(200, ErrorXml("InternalError"))},
                             {ScriptedHttpServer::Http(200, "<ListPartsResult></ListPartsResult>")},
                             {ScriptedHttpServer::Http(200, kCompleted)}});
  S3Client client(FakeConfig(server.endpoint()));
  EXPECT_EQ(client.CompleteMultipartUpload("k", "up1", {{1, "aa"}, {2, "bb"}}), "final-2");
}

TEST(S3ClientFaultTest, AnUploadGoneWithAnotherObjectIsNotFound) {
  ScriptedHttpServer server({{"", true},
                             {ScriptedHttpServer::Http(404, ErrorXml("NoSuchUpload"))},
                             {ScriptedHttpServer::Http(200, "", "ETag: \"other\"\r\n")}});
  S3Client client(FakeConfig(server.endpoint()));
  S3Error e = ErrorOf([&] { client.CompleteMultipartUpload("k", "up1", {{1, "aa"}}); });
  EXPECT_EQ(e.kind(), S3ErrorKind::kNotFound) << e.what();
}

TEST(S3ClientFaultTest, AListingOverItsCapIsABadAnswer) {
  std::string huge = "<ListBucketResult>" + std::string(1 << 20, ' ') + "</ListBucketResult>";
  ScriptedHttpServer server({{ScriptedHttpServer::Http(200, huge)}});
  S3Client client(FakeConfig(server.endpoint()));
  S3Error e = ErrorOf([&] { client.ListObjects(""); });
  EXPECT_EQ(e.kind(), S3ErrorKind::kBadAnswer) << e.what();
}

TEST(S3ClientFaultTest, SignsTheCanonicalQueryAndKey) {
  ScriptedHttpServer server({{ScriptedHttpServer::Http(
      200, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")}});
  S3Config config = FakeConfig(server.endpoint());
  config.prefix = "p re/";
  config.session_token = "TOKEN";
  S3Client client(config);
  client.ListObjects("a+b/", "tok/en=", 5);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  // Sorted by name, every value encoded, '/' included.
  EXPECT_TRUE(requests[0].starts_with(
      "GET /b?continuation-token=tok%2Fen%3D&encoding-type=url&list-type=2&max-keys=5"
      "&prefix=p%20re%2Fa%2Bb%2F HTTP/1.1\r\n"))
      << requests[0];
  EXPECT_NE(requests[0].find("\r\nx-amz-security-token: TOKEN\r\n"), std::string::npos);
  EXPECT_NE(requests[0].find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                             "x-amz-security-token"),
            std::string::npos)
      << requests[0];
}

TEST(S3ClientFaultTest, RefusesBadConfigurationAndKeys) {
  for (const char* endpoint : {"", "127.0.0.1:7480", "ftp://h", "http://", "http://h/path",
                               "http://user@h", "http://h?x"}) {
    EXPECT_THROW(S3Client{FakeConfig(endpoint)}, std::invalid_argument) << endpoint;
  }
  S3Config no_bucket = FakeConfig("http://h:1");
  no_bucket.bucket = "";
  EXPECT_THROW(S3Client{no_bucket}, std::invalid_argument);
  S3Client client(FakeConfig("http://127.0.0.1:1/"));
  EXPECT_EQ(ErrorOf([&] { client.PutObject("", "x"); }).kind(), S3ErrorKind::kRejected);
  EXPECT_EQ(ErrorOf([&] { client.PutObject(std::string(1025, 'k'), "x"); }).kind(),
            S3ErrorKind::kRejected);
  EXPECT_EQ(ErrorOf([&] { client.UploadPart("k", "id", 0, "x"); }).kind(), S3ErrorKind::kRejected);
  EXPECT_EQ(ErrorOf([&] { client.UploadPart("k", "id", 10001, "x"); }).kind(),
            S3ErrorKind::kRejected);
  EXPECT_EQ(ErrorOf([&] { client.CompleteMultipartUpload("k", "id", {}); }).kind(),
            S3ErrorKind::kRejected);
  EXPECT_EQ(client.stats().requests, 0u);
}

// Sets or unsets environment variables for a scope, and puts back what was there.
class ScopedEnvironment {
 public:
  ~ScopedEnvironment() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  void Set(const std::string& name, const char* value) {
    if (!saved_.count(name)) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    if (value) {
      ::setenv(name.c_str(), value, 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST(S3ClientFaultTest, ConfigFromEnvironmentFillsOnlyWhatIsEmpty) {
  ScopedEnvironment env;
  env.Set("AWS_ACCESS_KEY_ID", "env-ak");
  env.Set("AWS_SECRET_ACCESS_KEY", "env-sk");
  env.Set("AWS_SESSION_TOKEN", "env-token");
  env.Set("AWS_REGION", nullptr);
  env.Set("AWS_DEFAULT_REGION", "env-default-region");
  env.Set("AWS_ENDPOINT_URL_S3", nullptr);
  env.Set("AWS_ENDPOINT_URL", "http://env:1");
  S3Config set;
  set.access_key = "mine";
  S3Config config = S3ConfigFromEnvironment(set);
  EXPECT_EQ(config.access_key, "mine");
  EXPECT_EQ(config.secret_key, "env-sk");
  EXPECT_EQ(config.session_token, "env-token");
  EXPECT_EQ(config.region, "env-default-region");
  EXPECT_EQ(config.endpoint, "http://env:1");
  env.Set("AWS_REGION", "env-region");
  env.Set("AWS_ENDPOINT_URL_S3", "http://s3-only:2");
  config = S3ConfigFromEnvironment();
  EXPECT_EQ(config.region, "env-region");
  EXPECT_EQ(config.endpoint, "http://s3-only:2");
}

}  // namespace
}  // namespace kura::store
