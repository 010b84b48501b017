// The handler of the plain single-registry listener: optional htpasswd Basic auth, then the
// registry API on the plain registry's data (store::kPlainRegistryKey, a key no instance can
// have: an instance named "default" is an instance like any other).
#pragma once

#include "auth/htpasswd.h"
#include "registry/registry.h"
#include "server/http_server.h"

namespace kura::server {

class PlainRegistryHandler {
 public:
  // `users` may be null (no authentication). All must outlive the handler.
  PlainRegistryHandler(registry::Registry& registry, const auth::HtpasswdFile* users,
                       std::string realm);

  boost::asio::awaitable<registry::Response> Handle(registry::Request& req, const Peer& peer);

 private:
  registry::Registry& registry_;
  const auth::HtpasswdFile* users_;
  std::string realm_;
};

}  // namespace kura::server
