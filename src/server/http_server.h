// The HTTP/1.1 front of kura: accepts connections (plain or TLS), parses requests with
// Boost.Beast, checks credentials, hands each request to the Registry, and writes the answer
// (blob bodies with sendfile on plain connections). Holds no business rules.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <optional>

#include "auth/htpasswd.h"
#include "registry/registry.h"
#include "server/config.h"

namespace kura::server {

class HttpServer {
 public:
  // `users` may be null (no authentication). Both must outlive the server.
  HttpServer(const ServerConfig& config, registry::Registry& registry,
             const auth::HtpasswdFile* users);

  // Binds the listening socket and starts accepting on `io`. Throws std::runtime_error with the
  // reason when the address cannot be bound or the TLS files cannot be read.
  void Start(boost::asio::io_context& io);

  // The port actually bound (useful with port 0).
  uint16_t port() const { return port_; }

  struct Connection;

 private:
  // nullopt when the request may proceed, else the 401 to answer.
  std::optional<registry::Response> CheckCredentials(const registry::Request& req) const;

  const ServerConfig& config_;
  registry::Registry& registry_;
  const auth::HtpasswdFile* users_;
  std::optional<boost::asio::ssl::context> tls_;
  uint16_t port_ = 0;
};

}  // namespace kura::server
