// Every store call a push makes, failed in turn (faulty_stores.h): the request that meets the
// fault answers a 5xx OCI error naming the failure (500, 507 for a full store, 503 with
// Retry-After for an unreachable one), nothing is left half-done (a blob is whole or absent, a
// tag points at a whole manifest or at nothing new), and the same push then succeeds.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/digest.h"
#include "registry/consistency_check.h"
#include "registry/registry.h"
#include "store/faulty_stores.h"
#include "store/fs_blob_store.h"
#include "store/sqlite_meta_store.h"
#include "test_paths.h"

namespace kura::registry {
namespace {

using store::Fault;

class StringBody : public BodyReader {
 public:
  explicit StringBody(std::string data) : data_(std::move(data)) {}
  asio::awaitable<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min({n, data_.size() - at_, size_t{64 * 1024}});
    std::copy_n(data_.data() + at_, k, buf);
    at_ += k;
    co_return k;
  }
  std::optional<uint64_t> ContentLength() const override { return data_.size(); }

 private:
  std::string data_;
  size_t at_ = 0;
};

std::string Bytes(size_t n, char seed) {
  std::string s(n, '\0');
  uint32_t x = static_cast<unsigned char>(seed) + 7;
  for (char& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

struct Answer {
  int status = 0;
  std::string body;
  std::string location;
  std::string retry_after;
};

class Push {
 public:
  explicit Push(Registry& registry) : registry_(registry) {}

  Answer Send(http::verb method, const std::string& target, std::string body = {},
              const std::string& content_type = {}) {
    http::request_header<> header;
    header.method(method);
    if (!content_type.empty()) header.set(http::field::content_type, content_type);
    size_t q = target.find('?');
    StringBody reader(std::move(body));
    Request req{header,
                target.substr(0, q),
                q == std::string::npos ? "" : target.substr(q + 1),
                reader,
                std::string(store::kPlainRegistryKey),
                ""};
    asio::io_context io;
    auto answer = asio::co_spawn(io, registry_.Handle(req), asio::use_future);
    io.run();
    Response r = answer.get();
    return {static_cast<int>(r.status), r.body, std::string(r.fields[http::field::location]),
            std::string(r.fields[http::field::retry_after])};
  }

 private:
  Registry& registry_;
};

// The push every test makes: a config blob pushed whole, a layer in two chunks, then a manifest
// of both under a tag. Returns the first answer that is not a success, or nullopt.
struct Image {
  std::string config = Bytes(3 * 1024 * 1024 + 5, 'c');  // several upload buffers
  std::string layer_a = Bytes(2 * 1024 * 1024, 'a');
  std::string layer_b = Bytes(1536 * 1024 + 3, 'b');
  std::string layer() const { return layer_a + layer_b; }
  std::string manifest() const {
    nlohmann::json m = {{"schemaVersion", 2},
                        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                        {"config",
                         {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                          {"digest", core::Sha256Of(config).str()},
                          {"size", config.size()}}},
                        {"layers",
                         {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                           {"digest", core::Sha256Of(layer()).str()},
                           {"size", layer().size()}}}}};
    return m.dump();
  }
};

std::optional<Answer> PushImage(Push& p, const Image& image) {
  auto ok = [](const Answer& a) { return a.status >= 200 && a.status < 300; };
  Answer a =
      p.Send(http::verb::post,
             "/v2/app/blobs/uploads/?digest=" + core::Sha256Of(image.config).str(), image.config);
  if (!ok(a)) return a;
  a = p.Send(http::verb::post, "/v2/app/blobs/uploads/");
  if (!ok(a)) return a;
  std::string upload = a.location;
  a = p.Send(http::verb::patch, upload, image.layer_a);
  if (!ok(a)) return a;
  a = p.Send(http::verb::patch, upload, image.layer_b);
  if (!ok(a)) return a;
  a = p.Send(http::verb::put, upload + "?digest=" + core::Sha256Of(image.layer()).str());
  if (!ok(a)) return a;
  a = p.Send(http::verb::put, "/v2/app/manifests/v1", image.manifest(),
             "application/vnd.oci.image.manifest.v1+json");
  if (!ok(a)) return a;
  return std::nullopt;
}

class StoreFaultsTest : public ::testing::TestWithParam<Fault> {
 protected:
  void SetUp() override {
    dir_ = kura::testing::ScratchPath("store-faults");
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // One fresh registry, the fault at call `fail_at` of the blob store (or of the metadata
  // store's writes); checks what a client sees, then that the push goes through afterwards.
  void RunWithFault(bool in_blobs, int fail_at, int* calls) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store::FsBlobStore fs(dir_.string());
    store::SqliteMetaStore sqlite((dir_ / "kura.db").string());
    store::FaultPlan blob_plan, meta_plan;
    store::FaultyBlobStore blobs(fs, blob_plan);
    store::FaultyMetaStore meta(sqlite, meta_plan);
    (in_blobs ? blob_plan : meta_plan).FailAt(fail_at, GetParam());
    Registry registry(blobs, meta, UploadLimits{});
    Push push(registry);
    Image image;
    std::optional<Answer> failed = PushImage(push, image);
    *calls = (in_blobs ? blob_plan : meta_plan).calls();
    if (fail_at > 0 && fail_at <= *calls) {
      ASSERT_TRUE(failed) << "call " << fail_at << " failed, yet the push succeeded";
      int want = GetParam() == Fault::kFull ? 507 : GetParam() == Fault::kUnavailable ? 503 : 500;
      EXPECT_EQ(failed->status, want) << failed->body;
      auto body = nlohmann::json::parse(failed->body, nullptr, false);
      ASSERT_TRUE(body.is_object() && body.contains("errors")) << failed->body;
      EXPECT_NE(failed->body.find("injected fault"), std::string::npos) << failed->body;
      if (GetParam() == Fault::kUnavailable) {
        EXPECT_EQ(failed->retry_after, "1");
      }
      // Nothing half-done: a blob is absent or whole; the tag names nothing or the manifest.
      for (const std::string* blob : {&image.config}) {
        Answer got = push.Send(http::verb::get, "/v2/app/blobs/" + core::Sha256Of(*blob).str());
        EXPECT_TRUE(got.status == 404 || (got.status == 200 && got.body.empty()))
            << "status " << got.status;
      }
    } else {
      ASSERT_FALSE(failed) << failed->status << " " << failed->body;
    }
    // The client tries again from the start, as real clients do, and succeeds.
    (in_blobs ? blob_plan : meta_plan).FailAt(0, GetParam());
    std::optional<Answer> again = PushImage(push, image);
    ASSERT_FALSE(again) << "after call " << fail_at << " failed, a second push got "
                        << again->status << " " << again->body;
    // Every blob reads back whole (the registry's bytes, through the real store).
    for (const std::string& blob : {image.config, image.layer()}) {
      auto reader = fs.Open(core::Sha256Of(blob));
      ASSERT_TRUE(reader);
      EXPECT_EQ(reader->size(), blob.size());
    }
    Answer manifest = push.Send(http::verb::get, "/v2/app/manifests/v1");
    EXPECT_EQ(manifest.status, 200);
    EXPECT_EQ(manifest.body, image.manifest());
    ConsistencyReport report = CheckConsistency((dir_ / "kura.db").string(), fs,
                                                {std::string(store::kPlainRegistryKey)}, {});
    EXPECT_TRUE(report.ok()) << (report.problems.empty() ? "" : report.problems.front());
  }

  std::filesystem::path dir_;
};

TEST_P(StoreFaultsTest, EveryBlobStoreCallOfAPush) {
  int calls = 0;
  RunWithFault(true, 0, &calls);
  ASSERT_GT(calls, 5);
  for (int k = 1; k <= calls; ++k) {
    SCOPED_TRACE("blob store call " + std::to_string(k) + " of " + std::to_string(calls));
    int ignored = 0;
    RunWithFault(true, k, &ignored);
    if (HasFatalFailure()) return;
  }
}

TEST_P(StoreFaultsTest, EveryMetadataWriteOfAPush) {
  int calls = 0;
  RunWithFault(false, 0, &calls);
  ASSERT_GT(calls, 5);
  for (int k = 1; k <= calls; ++k) {
    SCOPED_TRACE("metadata write " + std::to_string(k) + " of " + std::to_string(calls));
    int ignored = 0;
    RunWithFault(false, k, &ignored);
    if (HasFatalFailure()) return;
  }
}

// The closing PUT committed the bytes, then could not link the blob: the same PUT again finishes
// the session (the session says what its bytes became), and nothing else can.
TEST_P(StoreFaultsTest, APutThatFailedAfterItsCommitFinishesWhenSentAgain) {
  std::filesystem::create_directories(dir_);
  store::FsBlobStore fs(dir_.string());
  store::SqliteMetaStore sqlite((dir_ / "kura.db").string());
  store::FaultPlan blob_plan, meta_plan;
  store::FaultyBlobStore blobs(fs, blob_plan);
  store::FaultyMetaStore meta(sqlite, meta_plan);
  Registry registry(blobs, meta, UploadLimits{});
  Push push(registry);
  std::string data = Bytes(1024 * 1024 + 9, 'r');
  std::string digest = core::Sha256Of(data).str();
  std::string upload = push.Send(http::verb::post, "/v2/app/blobs/uploads/").location;
  ASSERT_EQ(push.Send(http::verb::patch, upload, data).status, 202);
  meta_plan.FailNext("MetaStore::LinkBlob", GetParam());
  Answer failed = push.Send(http::verb::put, upload + "?digest=" + digest);
  EXPECT_GE(failed.status, 500) << failed.body;
  EXPECT_EQ(push.Send(http::verb::head, "/v2/app/blobs/" + digest).status, 404);
  ConsistencyReport between = CheckConsistency((dir_ / "kura.db").string(), fs,
                                               {std::string(store::kPlainRegistryKey)}, {});
  EXPECT_TRUE(between.ok()) << (between.problems.empty() ? "" : between.problems.front());
  Answer other = push.Send(http::verb::put, upload + "?digest=" + core::Sha256Of("x").str());
  EXPECT_EQ(other.status, 400) << other.body;
  Answer again = push.Send(http::verb::put, upload + "?digest=" + digest);
  EXPECT_EQ(again.status, 201) << again.body;
  Answer got = push.Send(http::verb::get, "/v2/app/blobs/" + digest);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(push.Send(http::verb::get, upload).status, 404);  // the session is over
  std::filesystem::remove_all(dir_);
}

INSTANTIATE_TEST_SUITE_P(Faults, StoreFaultsTest,
                         ::testing::Values(Fault::kError, Fault::kFull, Fault::kUnavailable),
                         [](const auto& info) {
                           switch (info.param) {
                             case Fault::kFull:
                               return std::string("StorageFull");
                             case Fault::kUnavailable:
                               return std::string("Unavailable");
                             default:
                               return std::string("IoError");
                           }
                         });

}  // namespace
}  // namespace kura::registry
