// The live exposure World shared by the admin API (which changes it) and every endpoint listener
// (which reads it on every request). Readers take an immutable snapshot without a lock on the
// fast path; a change copies the World, applies one World operation to the copy, persists it,
// and publishes it, so it takes effect on the next request without a restart.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "access/world.h"

namespace kura::admin {

class ExposureState {
 public:
  // `persist` is called with each new World before it is published; if it throws, the change
  // is not published and the exception propagates.
  ExposureState(access::World initial, std::function<void(const access::World&)> persist);
  ExposureState(const ExposureState&) = delete;
  ExposureState& operator=(const ExposureState&) = delete;

  // The current World. Cheap: a per-thread cached pointer, refreshed only after a change.
  std::shared_ptr<const access::World> Snapshot() const;

  // Applies `change` to a copy of the current World. When it returns ok the copy is persisted
  // and becomes current; otherwise nothing changes. Changes are serialised.
  access::Status Change(const std::function<access::Status(access::World&)>& change);

 private:
  const uint64_t id_;  // tells per-thread caches of different states apart
  std::function<void(const access::World&)> persist_;
  mutable std::mutex mu_;  // guards world_ and serialises changes
  std::shared_ptr<const access::World> world_;
  std::atomic<uint64_t> version_{1};
};

}  // namespace kura::admin
