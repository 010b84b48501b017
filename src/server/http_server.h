// The HTTP/1.1 front of kura: one HttpListener per configured listener accepts connections
// (plain or TLS, in any network namespace, optionally behind PROXY protocol), parses requests
// with Boost.Beast, and hands each one to the listener's handler; then writes the answer (blob
// bodies with sendfile on plain connections). Holds no business rules.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <optional>
#include <string>

#include "core/cidr.h"
#include "registry/exchange.h"
#include "server/config.h"
#include "server/io_threads.h"

namespace kura::server {

// Where a request came from, as far as the network can tell.
struct Peer {
  core::IpAddress address;  // the client (from the PROXY header when a trusted sender relays)
  std::optional<std::string> arrival_network;  // from a cloud PROXY v2 TLV naming the VPC
};

// Answers one request. Must not throw for bad input.
using RequestHandler =
    std::function<boost::asio::awaitable<registry::Response>(registry::Request&, const Peer&)>;

class HttpListener {
 public:
  // `config` and whatever `handler` refers to must outlive the listener.
  HttpListener(const ListenerConfig& config, RequestHandler handler, bool access_log);

  // Opens the listening socket (in the configured network namespace) and starts accepting on
  // one of the I/O threads of `threads`, each connection on the next of them. Throws
  // std::runtime_error with the reason when the address cannot be bound or the TLS files cannot
  // be read.
  void Start(IoThreads& threads);

  // The port actually bound (useful with port 0).
  uint16_t port() const { return port_; }
  const ListenerConfig& config() const { return config_; }

  struct Connection;

 private:
  bool TrustsProxyFrom(const core::IpAddress& address) const;

  const ListenerConfig& config_;
  RequestHandler handler_;
  bool access_log_;
  std::optional<boost::asio::ssl::context> tls_;
  uint16_t port_ = 0;
};

}  // namespace kura::server
