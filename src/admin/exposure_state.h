// The live exposure World shared by the admin API (which changes it) and every endpoint listener
// (which reads it on every request). Readers take an immutable snapshot without a lock on the
// fast path; a change copies the World (O(1): its tables are persistent maps, world.h), applies
// one World operation to the copy, saves the rows it changed (world_rows.h), and publishes it, so
// it takes effect on the next request without a restart.
//
// Several nodes share one saved World (store/admin_store.h). A change is saved only if no other
// node saved since this node's World was read (a compare-and-set on the revision); otherwise the
// node applies what the others changed, applies its change again to the World as it is now, and
// retries, so two changes made at once on two nodes both hold. Refresh, called every few hundred
// milliseconds, picks up the changes other nodes made: just the rows they wrote, replayed
// through the World's operations, so it costs what those changes cost, not what the World weighs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "access/world.h"
#include "store/admin_store.h"

namespace kura::admin {

class ExposureState {
 public:
  // Loads the World saved in `store` under `domain` (hostnames.h; an empty World if none was
  // saved). A World saved by an earlier kura as one document is saved as rows first. Throws
  // StoreError, or DocumentError for rows that cannot be restored.
  ExposureState(store::AdminStore& store, std::string domain);
  ExposureState(const ExposureState&) = delete;
  ExposureState& operator=(const ExposureState&) = delete;

  // The current World. Cheap: a per-thread cached pointer, refreshed only after a change.
  std::shared_ptr<const access::World> Snapshot() const;

  // Applies `change` to a copy of the current World. When it returns ok the rows it changed are
  // saved (none when it changed nothing) and the copy becomes current; otherwise nothing
  // changes. Changes are serialised on this node; against
  // another node's, see above. Throws what saving throws (StoreError), and StoreError when the
  // World kept moving under every retry.
  access::Status Change(const std::function<access::Status(access::World&)>& change);

  // Publishes the saved World if another node moved it since. Returns whether it did. Throws
  // what loading throws.
  bool Refresh();

  // The revision the current World is.
  uint64_t revision() const;

 private:
  void Publish(std::shared_ptr<const access::World> world, uint64_t revision);  // mu_ held
  // Every row, read again.
  void ReloadLocked();  // mu_ held
  // What other nodes saved since revision_, applied; or, if that cannot be done, ReloadLocked.
  void CatchUpLocked();  // mu_ held

  const uint64_t id_;  // tells per-thread caches of different states apart
  store::AdminStore& store_;
  const std::string domain_;
  mutable std::mutex mu_;  // guards world_ and revision_, serialises changes
  std::shared_ptr<const access::World> world_;
  uint64_t revision_ = 0;  // the saved revision world_ is
  std::atomic<uint64_t> version_{1};
};

}  // namespace kura::admin
