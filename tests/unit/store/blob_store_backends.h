// The BlobStore implementations the conformance suite (blob_store_test.cc) runs on, each with
// the set-up it needs.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "store/fs_blob_store.h"
#include "store/s3_blob_store.h"
#include "store/s3_test_gateway.h"
#include "test_paths.h"

namespace kura::store {

class FsBackend {
 public:
  void SetUp() {
    dir_ = kura::testing::ScratchPath("blobs");
    std::filesystem::remove_all(dir_);
    store_ = std::make_unique<FsBlobStore>(dir_.string());
  }
  void TearDown() { std::filesystem::remove_all(dir_); }
  BlobStore& store() { return *store_; }
  std::string NewUploadId() { return "upload-" + std::to_string(++next_id_); }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<FsBlobStore> store_;
  std::atomic<int> next_id_{0};
};

// The S3 store on the gateway of KURA_TEST_S3 (s3_test_gateway.h), under a prefix of its own
// that is emptied afterwards; skipped, saying how to run it, without the variable.
class S3Backend {
 public:
  void SetUp() {
    std::optional<Gateway> gateway = GatewayFromEnvironment();
    if (!gateway) {
      GTEST_SKIP() << "KURA_TEST_S3 is not set: start a gateway with scripts/ceph-up.sh DIR and "
                      "set KURA_TEST_S3=DIR/s3.env";
    }
    S3Config config = gateway->config;
    config.prefix = "blob-store-test-" + std::to_string(std::random_device{}()) + "/";
    store_ = std::make_unique<S3BlobStore>(config, options_);
  }
  void TearDown() {
    if (!store_) return;
    S3Client& client = store_->client();
    std::string token;
    do {
      S3ObjectPage page = client.ListObjects("", token);
      for (const S3Object& o : page.objects) client.DeleteObject(o.key);
      token = page.next_continuation_token;
    } while (!token.empty());
  }
  BlobStore& store() { return *store_; }
  std::string NewUploadId() { return "upload-" + std::to_string(++next_id_); }

 protected:
  S3BlobStoreOptions options_;

 private:
  std::unique_ptr<S3BlobStore> store_;
  std::atomic<int> next_id_{0};
};

// The S3 store with a single-copy limit of 5 MiB (S3's is 5 GiB): every commit of more goes
// through the copy in parts of 5 MiB (UploadPartCopy), two at a time.
class S3CopyInPartsBackend : public S3Backend {
 public:
  S3CopyInPartsBackend() {
    options_.max_copy_bytes = S3BlobStore::kMinPartBytes;
    options_.copy_part_bytes = S3BlobStore::kMinPartBytes;
    options_.copy_parallelism = 2;
  }
};

}  // namespace kura::store
