#include "admin/exposure_state.h"

#include "admin/world_document.h"
#include "admin/world_rows.h"
#include "store/meta_store.h"

namespace kura::admin {
namespace {

std::atomic<uint64_t> next_state_id{1};

// Retries of a change whose save lost to another node's: each loss means that node's change went
// in, so only an admin API under a storm of changes from every node can run out of them.
constexpr int kChangeAttempts = 16;

struct SnapshotCache {
  uint64_t state_id = 0;
  uint64_t version = 0;
  std::shared_ptr<const access::World> world;
};

}  // namespace

ExposureState::ExposureState(store::AdminStore& store, std::string domain)
    : id_(next_state_id++), store_(store), domain_(std::move(domain)) {
  std::lock_guard lock(mu_);
  ReloadLocked();
}

std::shared_ptr<const access::World> ExposureState::Snapshot() const {
  thread_local SnapshotCache cache;
  uint64_t version = version_.load(std::memory_order_acquire);
  if (cache.state_id == id_ && cache.version == version) return cache.world;
  std::lock_guard lock(mu_);
  cache = {id_, version_.load(std::memory_order_relaxed), world_};
  return cache.world;
}

uint64_t ExposureState::revision() const {
  std::lock_guard lock(mu_);
  return revision_;
}

void ExposureState::Publish(std::shared_ptr<const access::World> world, uint64_t revision) {
  world_ = std::move(world);
  revision_ = revision;
  version_.fetch_add(1, std::memory_order_release);
}

void ExposureState::ReloadLocked() {
  for (int attempt = 0; attempt < kChangeAttempts; ++attempt) {
    WorldRestorer restorer(domain_);
    store::WorldRows saved = ReadSavedWorld(store_, restorer);
    if (!saved.legacy_document) {
      Publish(std::make_shared<const access::World>(restorer.Finish()), saved.revision);
      return;
    }
    // Saved by a kura that kept the World as one document: it becomes rows, once (the first
    // node to save them wins; the others read them).
    access::World world = WorldFromDocument(*saved.legacy_document, domain_);
    if (store_.SaveWorldChanges(WorldToRows(world), saved.revision)) {
      Publish(std::make_shared<const access::World>(std::move(world)), saved.revision + 1);
      return;
    }
  }
  throw store::StoreError("the World kept changing on other nodes while it was loaded");
}

void ExposureState::CatchUpLocked() {
  store::WorldRows changes = store_.LoadWorldChanges(revision_);
  if (changes.complete) {
    if (changes.revision == revision_) return;
    auto next = std::make_shared<access::World>(*world_);
    if (ApplyWorldRowChanges(*next, changes.rows)) {
      Publish(std::move(next), changes.revision);
      return;
    }
  }
  ReloadLocked();
}

access::Status ExposureState::Change(const std::function<access::Status(access::World&)>& change) {
  std::lock_guard lock(mu_);
  for (int attempt = 0; attempt < kChangeAttempts; ++attempt) {
    auto next = std::make_shared<access::World>(*world_);
    access::Status status = change(*next);
    if (!status.ok()) return status;
    std::vector<store::WorldRow> rows = WorldRowChanges(*world_, *next);
    if (rows.empty()) {
      Publish(std::move(next), revision_);
      return status;
    }
    if (store_.SaveWorldChanges(rows, revision_)) {
      Publish(std::move(next), revision_ + 1);
      return status;
    }
    CatchUpLocked();  // another node saved first: apply the change to the World as it is now
  }
  throw store::StoreError("the World kept changing on other nodes; the change was not made");
}

bool ExposureState::Refresh() {
  uint64_t saved = store_.WorldRevision();
  std::lock_guard lock(mu_);
  if (saved == revision_) return false;
  CatchUpLocked();
  return true;
}

}  // namespace kura::admin
