#include "admin/exposure_state.h"

namespace kura::admin {
namespace {

std::atomic<uint64_t> next_state_id{1};

struct SnapshotCache {
  uint64_t state_id = 0;
  uint64_t version = 0;
  std::shared_ptr<const access::World> world;
};

}  // namespace

ExposureState::ExposureState(access::World initial,
                             std::function<void(const access::World&)> persist)
    : id_(next_state_id++),
      persist_(std::move(persist)),
      world_(std::make_shared<const access::World>(std::move(initial))) {}

std::shared_ptr<const access::World> ExposureState::Snapshot() const {
  thread_local SnapshotCache cache;
  uint64_t version = version_.load(std::memory_order_acquire);
  if (cache.state_id == id_ && cache.version == version) return cache.world;
  std::lock_guard lock(mu_);
  cache = {id_, version_.load(std::memory_order_relaxed), world_};
  return cache.world;
}

access::Status ExposureState::Change(
    const std::function<access::Status(access::World&)>& change) {
  std::lock_guard lock(mu_);
  auto next = std::make_shared<access::World>(*world_);
  access::Status status = change(*next);
  if (!status.ok()) return status;
  persist_(*next);
  world_ = std::move(next);
  version_.fetch_add(1, std::memory_order_release);
  return status;
}

}  // namespace kura::admin
