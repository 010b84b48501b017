// The BlobStore implementations the conformance suite (blob_store_test.cc) runs on, each with
// the set-up it needs.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "store/fs_blob_store.h"
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

}  // namespace kura::store
