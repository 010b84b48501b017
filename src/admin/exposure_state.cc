#include "admin/exposure_state.h"

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

ExposureState::ExposureState(access::World initial, uint64_t revision, WorldStorage storage)
    : id_(next_state_id++),
      storage_(std::move(storage)),
      world_(std::make_shared<const access::World>(std::move(initial))),
      revision_(revision) {}

std::shared_ptr<const access::World> ExposureState::Snapshot() const {
  thread_local SnapshotCache cache;
  uint64_t version = version_.load(std::memory_order_acquire);
  if (cache.state_id == id_ && cache.version == version) return cache.world;
  std::lock_guard lock(mu_);
  cache = {id_, version_.load(std::memory_order_relaxed), world_};
  return cache.world;
}

void ExposureState::Publish(std::shared_ptr<const access::World> world, uint64_t revision) {
  world_ = std::move(world);
  revision_ = revision;
  version_.fetch_add(1, std::memory_order_release);
}

void ExposureState::ReloadLocked() {
  auto saved = storage_.load();
  if (!saved) return;
  Publish(std::make_shared<const access::World>(std::move(saved->first)), saved->second);
}

access::Status ExposureState::Change(const std::function<access::Status(access::World&)>& change) {
  std::lock_guard lock(mu_);
  for (int attempt = 0; attempt < kChangeAttempts; ++attempt) {
    auto next = std::make_shared<access::World>(*world_);
    access::Status status = change(*next);
    if (!status.ok()) return status;
    if (storage_.save(*next, revision_)) {
      Publish(std::move(next), revision_ + 1);
      return status;
    }
    ReloadLocked();  // another node saved first: apply the change to the World as it is now
  }
  throw store::StoreError("the World kept changing on other nodes; the change was not made");
}

bool ExposureState::Refresh() {
  uint64_t saved = storage_.revision();
  std::lock_guard lock(mu_);
  if (saved == revision_) return false;
  ReloadLocked();
  return true;
}

}  // namespace kura::admin
