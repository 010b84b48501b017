// S3BlobStore's commit of a blob over its single-copy limit (S3BlobStoreOptions::max_copy_bytes,
// 5 GiB on S3, 5 MiB here): the assembled upload is copied to the blob's key in parts
// (UploadPartCopy) of a multipart upload that becomes the blob only when it is completed.
//
// S3CopyScriptedTest needs no gateway: a scripted server (scripted_http_server.h) answers every
// request of a commit, so the test sees each one (the copy-source ranges, the last part's
// included), and a part that fails: no completion, and the commit sent again copies only the
// parts still missing. S3CopyGatewayTest runs on the gateway of KURA_TEST_S3: a copy that fails
// on the real store leaves no object under the blob's key, the commit sent again finishes it,
// and RemoveUpload aborts a copy left half-done.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/digest.h"
#include "store/blob_store_backends.h"
#include "store/blob_test_bytes.h"
#include "store/meta_store.h"
#include "store/s3_blob_store.h"
#include "store/scripted_http_server.h"

namespace kura::store {
namespace {

using kura::testing::ScriptedHttpServer;
using Answer = ScriptedHttpServer::Answer;

constexpr uint64_t kMiB = 1 << 20;
// An upload part of 8 MiB and a tail of 4 MiB + 1: three copy parts of 5, 5 and 2 MiB + 1.
constexpr uint64_t kSize = 12 * kMiB + 1;

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

S3BlobStoreOptions SmallCopies(int parallelism) {
  S3BlobStoreOptions options;
  options.max_copy_bytes = 5 * kMiB;
  options.copy_part_bytes = 5 * kMiB;
  options.copy_parallelism = parallelism;
  return options;
}

// The answer to a HEAD: the headers of an object of `size` bytes, no body.
Answer Head(uint64_t size, const std::string& etag) {
  return {"HTTP/1.1 200 X\r\nETag: \"" + etag + "\"\r\nContent-Length: " + std::to_string(size) +
          "\r\n\r\n"};
}
Answer NoObject() {
  return {ScriptedHttpServer::Http(404)};  // a HEAD's 404 has no body
}
Answer Error(int status, const std::string& code) {
  return {ScriptedHttpServer::Http(status, "<Error><Code>" + code + "</Code></Error>")};
}
Answer Ok(const std::string& body = "", const std::string& headers = "") {
  return {ScriptedHttpServer::Http(200, body, headers)};
}
Answer Parts(const std::vector<std::pair<std::string, uint64_t>>& parts) {
  std::string xml = "<ListPartsResult><IsTruncated>false</IsTruncated>";
  for (size_t i = 0; i < parts.size(); ++i) {
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>\"" +
           parts[i].first + "\"</ETag><Size>" + std::to_string(parts[i].second) + "</Size></Part>";
  }
  return Ok(xml + "</ListPartsResult>");
}
Answer CopiedPart(const std::string& etag) {
  return Ok("<CopyPartResult><LastModified>2026-12-02T05:00:00.000Z</LastModified><ETag>\"" +
            etag + "\"</ETag></CopyPartResult>");
}
Answer Completed(const std::string& etag) {
  return Ok("<CompleteMultipartUploadResult><ETag>\"" + etag +
            "\"</ETag></CompleteMultipartUploadResult>");
}
Answer Listing(const std::vector<std::string>& keys) {
  std::string xml = "<ListBucketResult><IsTruncated>false</IsTruncated>";
  for (const std::string& key : keys) {
    xml += "<Contents><Key>" + key +
           "</Key><LastModified>2026-12-02T05:00:00.000Z</LastModified><Size>1</Size></Contents>";
  }
  return Ok(xml + "</ListBucketResult>");
}

const core::Digest kDigest = core::Sha256Of("the blob");
const std::string kBlobKey = S3BlobStore::BlobKey(kDigest);
const std::string kRecord = "cp1\n" + std::to_string(5 * kMiB) + "\n" + kBlobKey;

// The requests of a commit of upload u1 (state mp1) up to its copy: the upload's part 1 is
// there, its tail becomes part 2, then it is assembled into uploads/u1/data.
std::vector<Answer> Assembly() {
  return {
      Ok(),        // PUT bucket (the constructor)
      NoObject(),  // HEAD the blob: not there
      Parts({{"p1", 8 * kMiB}}),
      Ok(std::string(4 * kMiB + 1, 't'), "ETag: \"tail\"\r\n"),  // GET the tail
      Ok("", "ETag: \"p2\"\r\n"),                                 // UploadPart 2
      Completed("data-etag"),
  };
}

// The requests after the copy: the blob is checked, the upload removed.
std::vector<Answer> Removal(const std::string& state_abort_code = "NoSuchUpload") {
  return {
      Head(kSize, "blob-3"),
      Error(404, state_abort_code),  // abort mp1: completed already
      Listing({"uploads/u1/copy", "uploads/u1/data", "uploads/u1/tail-" + std::to_string(kSize)}),
      Ok(kRecord),                   // GET uploads/u1/copy
      Error(404, "NoSuchUpload"),    // abort cp1: completed already
      {ScriptedHttpServer::Http(204)},
      {ScriptedHttpServer::Http(204)},
      {ScriptedHttpServer::Http(204)},
  };
}

std::vector<Answer> Join(std::vector<std::vector<Answer>> lists) {
  std::vector<Answer> all;
  for (auto& list : lists) all.insert(all.end(), list.begin(), list.end());
  return all;
}

// The requests whose line starts with `prefix` ("PUT /b/blobs/...?partNumber=1").
std::vector<std::string> Matching(const std::vector<std::string>& requests,
                                  const std::string& prefix) {
  std::vector<std::string> out;
  for (const std::string& r : requests) {
    if (r.starts_with(prefix)) out.push_back(r);
  }
  return out;
}

bool Has(const std::string& request, const std::string& text) {
  return request.find(text) != std::string::npos;
}

std::string CopyPartLine(int n) {
  return "PUT /b/" + kBlobKey + "?partNumber=" + std::to_string(n) + "&uploadId=cp1 ";
}

TEST(S3CopyScriptedTest, CopiesInPartsOfTheLimitThenCompletes) {
  ScriptedHttpServer server(Join({Assembly(),
                                  {
                                      NoObject(),  // GET uploads/u1/copy: no earlier attempt
                                      Ok("<InitiateMultipartUploadResult><UploadId>cp1</UploadId>"
                                         "</InitiateMultipartUploadResult>"),
                                      Ok("", "ETag: \"r\"\r\n"),  // PUT uploads/u1/copy
                                      CopiedPart("c1"),
                                      CopiedPart("c2"),
                                      CopiedPart("c3"),
                                      Completed("blob-3"),
                                  },
                                  Removal()}));
  S3BlobStore store(FakeConfig(server.endpoint()), SmallCopies(1));
  store.Commit("u1", kSize, "mp1", kDigest);

  std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), Assembly().size() + 7 + Removal().size());
  EXPECT_TRUE(requests[6].starts_with("GET /b/uploads/u1/copy ")) << requests[6];
  EXPECT_TRUE(requests[7].starts_with("POST /b/" + kBlobKey + "?uploads= ")) << requests[7];
  EXPECT_TRUE(requests[8].starts_with("PUT /b/uploads/u1/copy ")) << requests[8];
  EXPECT_TRUE(requests[8].ends_with("\r\n\r\n" + kRecord)) << requests[8];
  // Bytes 0-5 MiB, 5-10 MiB and the rest, each from the assembled object of the ETag its
  // completion gave.
  const std::string ranges[] = {"bytes=0-5242879", "bytes=5242880-10485759",
                                "bytes=10485760-12582912"};
  for (int n = 1; n <= 3; ++n) {
    const std::string& r = requests[static_cast<size_t>(8 + n)];
    EXPECT_TRUE(r.starts_with(CopyPartLine(n))) << r;
    EXPECT_TRUE(Has(r, "x-amz-copy-source: /b/uploads/u1/data\r\n")) << r;
    EXPECT_TRUE(Has(r, "x-amz-copy-source-range: " + ranges[n - 1] + "\r\n")) << r;
    EXPECT_TRUE(Has(r, "x-amz-copy-source-if-match: \"data-etag\"\r\n")) << r;
    EXPECT_TRUE(Has(r, "Content-Length: 0\r\n")) << r;
    // Signed by the client, every header by name in order (libcurl 7.88 would put the range
    // before the source), for the Host it sends.
    EXPECT_TRUE(Has(r, "\r\nHost: 127.0.0.1:" + server.endpoint().substr(17) + "\r\n")) << r;
    EXPECT_TRUE(Has(r, "Authorization: AWS4-HMAC-SHA256 Credential=AK/")) << r;
    EXPECT_TRUE(Has(r, "/r/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;"
                       "x-amz-copy-source;x-amz-copy-source-if-match;x-amz-copy-source-range;"
                       "x-amz-date, Signature="))
        << r;
  }
  const std::string& complete = requests[12];
  EXPECT_TRUE(complete.starts_with("POST /b/" + kBlobKey + "?uploadId=cp1 ")) << complete;
  EXPECT_TRUE(Has(complete,
                  "<Part><PartNumber>1</PartNumber><ETag>\"c1\"</ETag></Part><Part><PartNumber>2"
                  "</PartNumber><ETag>\"c2\"</ETag></Part><Part><PartNumber>3</PartNumber><ETag>"
                  "\"c3\"</ETag></Part></CompleteMultipartUpload>"))
      << complete;
  EXPECT_TRUE(requests[13].starts_with("HEAD /b/" + kBlobKey + " ")) << requests[13];
  // The record's copy is aborted before the record goes.
  EXPECT_TRUE(requests[17].starts_with("DELETE /b/" + kBlobKey + "?uploadId=cp1 ")) << requests[17];
  EXPECT_EQ(Matching(requests, "DELETE /b/uploads/u1/").size(), 4u);  // mp1's abort, 3 objects
  // Never a single CopyObject to the blob's key.
  EXPECT_TRUE(Matching(requests, "PUT /b/" + kBlobKey + " ").empty());
}

TEST(S3CopyScriptedTest, AFailedPartLeavesNoBlobAndTheCommitSentAgainCopiesTheRest) {
  ScriptedHttpServer server(Join({
      Assembly(),
      {
          NoObject(),
          Ok("<InitiateMultipartUploadResult><UploadId>cp1</UploadId>"
             "</InitiateMultipartUploadResult>"),
          Ok("", "ETag: \"r\"\r\n"),
          CopiedPart("c1"),
          Error(400, "InvalidRequest"),  // part 2: refused, not retried
          NoObject(),                    // HEAD the blob after the failure: not there
      },
      // The commit sent again: the upload was assembled by the first one.
      {
          NoObject(),                   // HEAD the blob
          Error(404, "NoSuchUpload"),   // ListParts of mp1: completed
          Head(kSize, "data-etag"),     // HEAD uploads/u1/data: assembled, whole
          Ok(kRecord),                  // GET uploads/u1/copy: the first attempt's copy
          Parts({{"c1", 5 * kMiB}}),    // ListParts of cp1: part 1 is there
          CopiedPart("c2"),
          CopiedPart("c3"),
          Completed("blob-3"),
      },
      Removal(),
  }));
  S3BlobStore store(FakeConfig(server.endpoint()), SmallCopies(1));
  EXPECT_THROW(store.Commit("u1", kSize, "mp1", kDigest), StoreError);
  std::vector<std::string> first = server.requests();
  ASSERT_EQ(first.size(), Assembly().size() + 6);
  // Nothing completed the copy, nothing was put at the blob's key, the record stays.
  EXPECT_TRUE(Matching(first, "POST /b/" + kBlobKey + "?uploadId=").empty());
  EXPECT_TRUE(Matching(first, "PUT /b/" + kBlobKey + " ").empty());
  EXPECT_TRUE(Matching(first, "DELETE ").empty());
  EXPECT_TRUE(first.back().starts_with("HEAD /b/" + kBlobKey + " ")) << first.back();

  store.Commit("u1", kSize, "mp1", kDigest);
  std::vector<std::string> all = server.requests();
  std::vector<std::string> again(all.begin() + static_cast<long>(first.size()), all.end());
  ASSERT_EQ(again.size(), 8 + Removal().size());
  EXPECT_TRUE(again[1].starts_with("GET /b/uploads/u1/data?max-parts=1000&uploadId=mp1 "))
      << again[1];
  EXPECT_TRUE(again[2].starts_with("HEAD /b/uploads/u1/data ")) << again[2];
  EXPECT_TRUE(again[4].starts_with("GET /b/" + kBlobKey + "?max-parts=1000&uploadId=cp1 "))
      << again[4];
  // Only parts 2 and 3, of the same ranges; no second multipart upload of the blob's key.
  EXPECT_TRUE(Matching(again, CopyPartLine(1)).empty());
  EXPECT_TRUE(again[5].starts_with(CopyPartLine(2))) << again[5];
  EXPECT_TRUE(Has(again[5], "x-amz-copy-source-range: bytes=5242880-10485759\r\n")) << again[5];
  EXPECT_TRUE(again[6].starts_with(CopyPartLine(3))) << again[6];
  EXPECT_TRUE(Has(again[6], "x-amz-copy-source-range: bytes=10485760-12582912\r\n")) << again[6];
  EXPECT_TRUE(Matching(again, "POST /b/" + kBlobKey + "?uploads=").empty());
  EXPECT_TRUE(Has(again[7],
                  "<Part><PartNumber>1</PartNumber><ETag>\"c1\"</ETag></Part><Part><PartNumber>2"
                  "</PartNumber><ETag>\"c2\"</ETag></Part><Part><PartNumber>3</PartNumber><ETag>"
                  "\"c3\"</ETag></Part>"))
      << again[7];
}

TEST(S3CopyScriptedTest, APartCopyIsBoundedByItsDeadlineNotTheLowSpeedLimit) {
  // The store says nothing while it copies: the copy of 5 MiB at 5 MiB/s is given 1 s, then
  // retried, then given up; the low-speed limit (30 s here) would have waited longer.
  ScriptedHttpServer server({{"", false, true}, {"", false, true}});
  S3Config config = FakeConfig(server.endpoint());
  config.max_attempts = 2;
  config.low_speed_time = std::chrono::seconds(0);
  config.copy_bytes_per_second = 5 * kMiB;
  S3Client client(config);
  auto start = std::chrono::steady_clock::now();
  try {
    client.UploadPartCopy("to", "cp1", 1, "from", ByteRange(0, 5 * kMiB - 1));
    ADD_FAILURE() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.kind(), S3ErrorKind::kUnavailable) << e.what();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GT(seconds, 1.8);
  EXPECT_LT(seconds, 10);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(S3CopyScriptedTest, RefusesOptionsOutOfBounds) {
  ScriptedHttpServer server({});
  S3BlobStoreOptions small = SmallCopies(1);
  small.max_copy_bytes = kMiB;
  EXPECT_THROW(S3BlobStore(FakeConfig(server.endpoint()), small), std::invalid_argument);
  S3BlobStoreOptions huge_parts = SmallCopies(1);
  huge_parts.copy_part_bytes = 6ull << 30;
  EXPECT_THROW(S3BlobStore(FakeConfig(server.endpoint()), huge_parts), std::invalid_argument);
  EXPECT_THROW(S3BlobStore(FakeConfig(server.endpoint()), SmallCopies(0)), std::invalid_argument);
  EXPECT_TRUE(server.requests().empty());
}

// On the gateway of KURA_TEST_S3.
class S3CopyGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_.SetUp();
    if (IsSkipped()) return;
    store_ = static_cast<S3BlobStore*>(&backend_.store());
  }
  void TearDown() override { backend_.TearDown(); }

  // A store on the same prefix whose part copies all fail: each is given the shortest deadline
  // (1 ms: no low-speed time, a copy rate of 1 TiB/s), once; the gateway takes longer.
  std::unique_ptr<S3BlobStore> FailingCopies() {
    S3Config config = store_->client().config();
    config.low_speed_time = std::chrono::seconds(0);
    config.copy_bytes_per_second = uint64_t{1} << 40;
    config.max_attempts = 1;
    return std::make_unique<S3BlobStore>(config, store_->options());
  }

  std::string Upload(const std::string& id, const std::string& data) {
    return kura::testing::AppendAll(*store_, id, 0, {}, data);
  }

  std::string Read(const core::Digest& digest) { return kura::testing::ReadBlob(*store_, digest); }

  static std::string Bytes(size_t n, uint32_t seed) { return kura::testing::TestBytes(n, seed); }

  // The copy upload uploads/<id>/copy names, or "" when there is no record.
  std::string RecordedCopy(const std::string& id) {
    std::optional<std::string> record =
        store_->client().GetObjectBytes("uploads/" + id + "/copy");
    return record ? record->substr(0, record->find('\n')) : "";
  }

  bool CopyUploadExists(const std::string& key, const std::string& upload) {
    try {
      store_->client().ListParts(key, upload);
      return true;
    } catch (const S3Error& e) {
      if (e.kind() == S3ErrorKind::kNotFound) return false;
      throw;
    }
  }

  S3CopyInPartsBackend backend_;
  S3BlobStore* store_ = nullptr;
};

TEST_F(S3CopyGatewayTest, AFailedCopyLeavesNoBlobAndTheCommitSentAgainFinishesIt) {
  const std::string data = Bytes(kSize, 7);
  const core::Digest digest = core::Sha256Of(data);
  const std::string state = Upload("u1", data);
  EXPECT_THROW(FailingCopies()->Commit("u1", data.size(), state, digest), StoreError);
  EXPECT_FALSE(store_->Stat(digest));
  EXPECT_FALSE(store_->Open(digest));
  const std::string copy = RecordedCopy("u1");
  ASSERT_FALSE(copy.empty());
  EXPECT_TRUE(CopyUploadExists(S3BlobStore::BlobKey(digest), copy));
  // The session still holds its bytes, assembled (the consistency check asks).
  EXPECT_TRUE(store_->HoldsUpload("u1", data.size(), state));
  EXPECT_FALSE(store_->HoldsUpload("u1", data.size() - 1, state));

  store_->Commit("u1", data.size(), state, digest);  // sent again
  EXPECT_EQ(store_->Stat(digest), data.size());
  EXPECT_TRUE(Read(digest) == data);
  EXPECT_EQ(store_->client().HeadObject(S3BlobStore::BlobKey(digest))->etag.substr(32), "-3");
  // The upload is gone, its copy with it.
  EXPECT_TRUE(store_->client().ListObjects("uploads/u1/").objects.empty());
  EXPECT_FALSE(CopyUploadExists(S3BlobStore::BlobKey(digest), copy));
}

TEST_F(S3CopyGatewayTest, RemovingAnUploadAbortsItsHalfDoneCopy) {
  const std::string data = Bytes(11 * kMiB, 8);
  const core::Digest digest = core::Sha256Of(data);
  const std::string state = Upload("u2", data);
  EXPECT_THROW(FailingCopies()->Commit("u2", data.size(), state, digest), StoreError);
  const std::string copy = RecordedCopy("u2");
  ASSERT_FALSE(copy.empty());
  EXPECT_EQ(store_->ListUploads(0), std::vector<std::string>{"u2"});
  store_->RemoveUpload("u2", {});
  EXPECT_FALSE(CopyUploadExists(S3BlobStore::BlobKey(digest), copy));
  EXPECT_TRUE(store_->ListUploads(0).empty());
  EXPECT_FALSE(store_->Stat(digest));
}

TEST_F(S3CopyGatewayTest, ACopyOfOtherPartsIsAbortedAndStartedAgain) {
  // A record of a copy cut in other parts (a store of other options made it): its parts
  // would not line up, so the commit aborts it and copies anew.
  const std::string data = Bytes(kSize, 9);
  const core::Digest digest = core::Sha256Of(data);
  const std::string state = Upload("u3", data);
  EXPECT_THROW(FailingCopies()->Commit("u3", data.size(), state, digest), StoreError);
  const std::string old_copy = RecordedCopy("u3");
  ASSERT_FALSE(old_copy.empty());
  store_->client().PutObject("uploads/u3/copy",
                             old_copy + "\n" + std::to_string(6 * kMiB) + "\n" +
                                 S3BlobStore::BlobKey(digest));
  store_->Commit("u3", data.size(), state, digest);
  EXPECT_TRUE(Read(digest) == data);
  EXPECT_FALSE(CopyUploadExists(S3BlobStore::BlobKey(digest), old_copy));
}

}  // namespace
}  // namespace kura::store
