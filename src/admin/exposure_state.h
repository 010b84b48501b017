// The live exposure World shared by the admin API (which changes it) and every endpoint listener
// (which reads it on every request). Readers take an immutable snapshot without a lock on the
// fast path; a change copies the World, applies one World operation to the copy, saves it, and
// publishes it, so it takes effect on the next request without a restart.
//
// Several nodes share one saved World (store/admin_store.h). A change is saved only if no other
// node saved since this node's World was read (a compare-and-set on the revision); otherwise the
// node reloads, applies the change again to the World as it is now, and retries, so two changes
// made at once on two nodes both hold. Refresh, called every few hundred milliseconds, picks up
// the changes other nodes made.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "access/world.h"

namespace kura::admin {

// Where the World is saved: load it with its revision, save it if the revision did not move.
struct WorldStorage {
  // The saved World and its revision; nullopt before the first save.
  std::function<std::optional<std::pair<access::World, uint64_t>>()> load;
  // Saves `world` as the revision after `expected`; false when another save came first.
  std::function<bool(const access::World& world, uint64_t expected)> save;
  // The current revision, cheaply (for Refresh).
  std::function<uint64_t()> revision;
};

class ExposureState {
 public:
  // `initial` is the World as saved at `revision` (0 when it was never saved).
  ExposureState(access::World initial, uint64_t revision, WorldStorage storage);
  ExposureState(const ExposureState&) = delete;
  ExposureState& operator=(const ExposureState&) = delete;

  // The current World. Cheap: a per-thread cached pointer, refreshed only after a change.
  std::shared_ptr<const access::World> Snapshot() const;

  // Applies `change` to a copy of the current World. When it returns ok the copy is saved and
  // becomes current; otherwise nothing changes. Changes are serialised on this node; against
  // another node's, see above. Throws what saving throws (StoreError), and StoreError when the
  // World kept moving under every retry.
  access::Status Change(const std::function<access::Status(access::World&)>& change);

  // Publishes the saved World if another node moved it since. Returns whether it did. Throws
  // what loading throws.
  bool Refresh();

 private:
  void Publish(std::shared_ptr<const access::World> world, uint64_t revision);  // mu_ held
  void ReloadLocked();                                                          // mu_ held

  const uint64_t id_;  // tells per-thread caches of different states apart
  WorldStorage storage_;
  mutable std::mutex mu_;  // guards world_ and revision_, serialises changes
  std::shared_ptr<const access::World> world_;
  uint64_t revision_ = 0;  // the saved revision world_ is
  std::atomic<uint64_t> version_{1};
};

}  // namespace kura::admin
