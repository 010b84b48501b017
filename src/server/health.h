// The health listener (config `health: {listen: ...}`), for load balancers and orchestrators:
//
//   GET /healthz   200 "ok" while the process serves requests at all (liveness)
//   GET /readyz    200 when this node can serve registry requests: its metadata store and blob
//                  store both answer; 503 with the failing store's reason otherwise (readiness)
//
// A listener of its own, not a path on the registry's: the endpoint listeners answer only what
// the exposure rules admit, and a probe must not depend on a Host or on credentials.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "registry/exchange.h"
#include "store/blob_store.h"
#include "store/meta_store.h"

namespace kura::server {

class Health {
 public:
  Health(store::MetaStore& meta, store::BlobStore& blobs) : meta_(meta), blobs_(blobs) {}

  // Answers GET/HEAD /healthz and /readyz; 404 for any other path, 405 for other methods.
  registry::Response Handle(const registry::Request& req);

 private:
  // Asks both stores, at most once a second (probes of several balancers share the answer).
  // Returns the reason the node is not ready, or "" when it is.
  std::string NotReadyReason();

  store::MetaStore& meta_;
  store::BlobStore& blobs_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point checked_{};  // guarded by mu_
  std::string reason_;                               // guarded by mu_
};

}  // namespace kura::server
