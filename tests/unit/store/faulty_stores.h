// Stores that fail on cue, for the fault-injection tests: each wraps a real store and counts
// every call that writes (or, for the blob store, every call at all, appends' buffers included);
// the call numbered `fail_at` throws the chosen error instead of reaching the real store. Run a
// request once with no fault to count its calls, then once per call with that one failing.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "store/blob_store.h"
#include "store/meta_store.h"

namespace kura::store {

// What a failing call throws.
enum class Fault { kError, kFull, kUnavailable };

class FaultPlan {
 public:
  // The call numbered `n` (1-based) fails with `fault`; 0 for none.
  void FailAt(int n, Fault fault) {
    fail_at_ = n;
    fault_ = fault;
    calls_ = 0;
  }
  // The next call named `what` ("MetaStore::LinkBlob") fails with `fault`.
  void FailNext(std::string what, Fault fault) {
    fail_named_ = std::move(what);
    fault_ = fault;
  }
  int calls() const { return calls_; }
  // Counts a call; throws when it is the one to fail.
  void Call(const char* what) {
    bool named = !fail_named_.empty() && fail_named_ == what;
    if (named) fail_named_.clear();
    if (++calls_ != fail_at_ && !named) return;
    std::string why = std::string("injected fault in ") + what;
    switch (fault_) {
      case Fault::kFull:
        throw StorageFull(why + ": no space left on device");
      case Fault::kUnavailable:
        throw StoreUnavailable(why + ": connection lost");
      case Fault::kError:
        throw StoreError(why + ": I/O error");
    }
  }

 private:
  std::atomic<int> calls_{0};
  int fail_at_ = 0;
  std::string fail_named_;
  Fault fault_ = Fault::kError;
};

class FaultyBlobStore final : public BlobStore {
 public:
  FaultyBlobStore(BlobStore& inner, FaultPlan& plan) : inner_(inner), plan_(plan) {}

  std::unique_ptr<BlobReader> Open(const core::Digest& d) override {
    plan_.Call("BlobStore::Open");
    return inner_.Open(d);
  }
  std::optional<uint64_t> Stat(const core::Digest& d) override {
    plan_.Call("BlobStore::Stat");
    return inner_.Stat(d);
  }
  std::unique_ptr<UploadAppender> Append(const std::string& id, uint64_t offset,
                                         const std::string& state) override {
    plan_.Call("BlobStore::Append");
    return std::make_unique<Appender>(inner_.Append(id, offset, state), plan_);
  }
  void Commit(const std::string& id, uint64_t size, const std::string& state,
              const core::Digest& d) override {
    plan_.Call("BlobStore::Commit");
    inner_.Commit(id, size, state, d);
  }
  void RemoveUpload(const std::string& id, const std::string& state) override {
    inner_.RemoveUpload(id, state);  // never fails: its contract says best effort
  }
  std::unique_ptr<BlobReader> ReadUpload(const std::string& id, const std::string& s) override {
    plan_.Call("BlobStore::ReadUpload");
    return inner_.ReadUpload(id, s);
  }
  bool HoldsUpload(const std::string& id, uint64_t offset, const std::string& s) override {
    return inner_.HoldsUpload(id, offset, s);
  }
  std::vector<std::string> ListUploads(int64_t idle) override { return inner_.ListUploads(idle); }
  void Remove(const core::Digest& d) override { inner_.Remove(d); }

 private:
  class Appender final : public UploadAppender {
   public:
    Appender(std::unique_ptr<UploadAppender> inner, FaultPlan& plan)
        : inner_(std::move(inner)), plan_(plan) {}
    std::span<char> NextBuffer() override {
      plan_.Call("UploadAppender::NextBuffer");
      return inner_->NextBuffer();
    }
    void Submit(size_t n) override { inner_->Submit(n); }
    void ReleaseIdleBuffers() override { inner_->ReleaseIdleBuffers(); }
    std::string Finish() override {
      plan_.Call("UploadAppender::Finish");
      return inner_->Finish();
    }
    void Abort() override { inner_->Abort(); }

   private:
    std::unique_ptr<UploadAppender> inner_;
    FaultPlan& plan_;
  };

  BlobStore& inner_;
  FaultPlan& plan_;
};

// Fails writes only: a read that fails is answered like any store failure and changes nothing.
class FaultyMetaStore final : public MetaStore {
 public:
  FaultyMetaStore(MetaStore& inner, FaultPlan& plan) : inner_(inner), plan_(plan) {}

  std::optional<uint64_t> LinkedBlobSize(const RepoKey& r, std::string_view d) override {
    return inner_.LinkedBlobSize(r, d);
  }
  void LinkBlob(const RepoKey& r, std::string_view d, uint64_t size) override {
    plan_.Call("MetaStore::LinkBlob");
    inner_.LinkBlob(r, d, size);
  }
  bool UnlinkBlob(const RepoKey& r, std::string_view d) override {
    plan_.Call("MetaStore::UnlinkBlob");
    return inner_.UnlinkBlob(r, d);
  }
  std::optional<std::string> PutManifest(const RepoKey& r, const ManifestRecord& m,
                                         std::string_view tag) override {
    plan_.Call("MetaStore::PutManifest");
    return inner_.PutManifest(r, m, tag);
  }
  std::optional<StoredManifest> GetManifest(const RepoKey& r, std::string_view d) override {
    return inner_.GetManifest(r, d);
  }
  std::optional<StoredManifest> GetTaggedManifest(const RepoKey& r, std::string_view t) override {
    return inner_.GetTaggedManifest(r, t);
  }
  bool DeleteManifest(const RepoKey& r, std::string_view d) override {
    plan_.Call("MetaStore::DeleteManifest");
    return inner_.DeleteManifest(r, d);
  }
  bool DeleteTag(const RepoKey& r, std::string_view t) override {
    plan_.Call("MetaStore::DeleteTag");
    return inner_.DeleteTag(r, t);
  }
  bool RepositoryExists(const RepoKey& r) override { return inner_.RepositoryExists(r); }
  std::vector<std::string> ListTags(const RepoKey& r, std::string_view after,
                                    size_t limit) override {
    return inner_.ListTags(r, after, limit);
  }
  std::vector<std::string> ListRepositories(std::string_view i, std::string_view after,
                                            size_t limit) override {
    return inner_.ListRepositories(i, after, limit);
  }
  std::vector<Referrer> ListReferrers(const RepoKey& r, std::string_view d) override {
    return inner_.ListReferrers(r, d);
  }
  void DeleteInstance(std::string_view i) override { inner_.DeleteInstance(i); }
  std::vector<std::string> ListInstanceKeys() override { return inner_.ListInstanceKeys(); }
  std::vector<std::string> ExpireUploads(int64_t idle) override {
    return inner_.ExpireUploads(idle);
  }
  std::vector<std::string> ListUploadIds() override { return inner_.ListUploadIds(); }
  void CreateUpload(const UploadSession& s) override {
    plan_.Call("MetaStore::CreateUpload");
    inner_.CreateUpload(s);
  }
  std::optional<UploadSession> FindUpload(std::string_view id) override {
    return inner_.FindUpload(id);
  }
  void DeleteUpload(std::string_view id) override {
    plan_.Call("MetaStore::DeleteUpload");
    inner_.DeleteUpload(id);
  }
  LeaseOutcome LeaseUpload(std::string_view id, const RepoKey& r, std::string_view holder,
                           int64_t seconds, UploadSession* s) override {
    plan_.Call("MetaStore::LeaseUpload");
    return inner_.LeaseUpload(id, r, holder, seconds, s);
  }
  bool RenewUploadLease(std::string_view id, const RepoKey& r, std::string_view holder,
                        int64_t seconds) override {
    plan_.Call("MetaStore::RenewUploadLease");
    return inner_.RenewUploadLease(id, r, holder, seconds);
  }
  bool SetUploadOffset(std::string_view id, const RepoKey& r, std::string_view holder,
                       uint64_t offset, std::string_view state) override {
    plan_.Call("MetaStore::SetUploadOffset");
    return inner_.SetUploadOffset(id, r, holder, offset, state);
  }
  void ReleaseUploadLease(std::string_view id, std::string_view holder) override {
    inner_.ReleaseUploadLease(id, holder);
  }

 private:
  MetaStore& inner_;
  FaultPlan& plan_;
};

}  // namespace kura::store
