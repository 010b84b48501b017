// The handler of the Internet and VPC endpoint listeners: everything between a request and the
// registry API of an instance, in the order of EXPOSURE.md:
//   1. the Host header names the instance and the endpoint (404 when it names none);
//   2. access::Admit decides whether this connection may use that endpoint (403 DENIED naming
//      the rule), and the decision is written as one JSON audit line (server/audit_log.h);
//   3. credentials: the token endpoint (GET /token), Bearer tokens, Basic passwords of the
//      instance (permanent or temporary), anonymous pull of public namespaces; failed logins are
//      throttled per source and per (instance, user) (server/login_throttle.h), and passwords
//      are checked off the I/O threads (server/password_checks.h);
//   4. authorization by auth::DecideRequest (auth/request_policy.h): the gateway only gathers
//      the facts (who calls, the route, the instance's namespaces) and applies the answer;
//   5. the registry API, on the instance's own repositories.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "admin/exposure_state.h"
#include "auth/password.h"
#include "auth/request_policy.h"
#include "auth/token.h"
#include "registry/registry.h"
#include "server/audit_log.h"
#include "server/http_server.h"
#include "server/login_throttle.h"
#include "server/password_checks.h"
#include "server/shared_login_limits.h"
#include "store/admin_store.h"

namespace kura::server {

class InstanceGateway {
 public:
  // All must outlive the gateway.
  // Registry tokens of an instance are signed with a key derived from `token_master_key` and
  // the instance's incarnation: a token never outlives the instance it was issued for.
  // `password_threads` threads check passwords (PasswordChecks).
  InstanceGateway(admin::ExposureState& exposure, store::AdminStore& admin_store,
                  registry::Registry& registry, std::string token_master_key,
                  int64_t token_ttl_seconds, AuditLog& audit,
                  unsigned password_threads = PasswordChecks::DefaultThreads());

  // Counts failed logins in the admin store too, so the limits hold across every node that
  // shares it (shared_login_limits.h). Call before serving.
  void CountLoginsAcrossNodes() { shared_logins_.emplace(admin_store_); }

  // Serves one request arriving on `listener`. A store that cannot be reached (sign-in reads
  // credentials, a push may create a namespace) is answered 503 with Retry-After, another store
  // failure 500.
  boost::asio::awaitable<registry::Response> Handle(registry::Request& req, const Peer& peer,
                                                    const ListenerConfig& listener);

 private:
  boost::asio::awaitable<registry::Response> Serve(registry::Request& req, const Peer& peer,
                                                   const ListenerConfig& listener);
  // How a Basic sign-in ended.
  struct SignIn {
    enum class Result { kSignedIn, kWrong, kThrottled, kBusy } result = Result::kWrong;
    std::string message;  // kThrottled, kBusy
    int retry_after = 0;  // seconds; kThrottled, kBusy
  };
  // Checks Basic credentials `authorization` for `instance` from `peer` (throttled; bcrypt on
  // the password pool, so this may suspend). Sets *caller when signed in.
  boost::asio::awaitable<SignIn> SignInWithPassword(std::string_view authorization,
                                                    const Peer& peer,
                                                    const access::Instance& instance,
                                                    auth::Principal* caller);

  registry::Response IssueToken(registry::Request& req, const auth::Principal& caller,
                                const access::Instance& instance, const std::string& service);
  std::optional<registry::Response> Authorize(registry::Request& req, const registry::Route& route,
                                              const auth::Principal& caller,
                                              const access::Instance& instance,
                                              const std::string& realm, const std::string& service);

  const uint64_t id_;  // tells this gateway's per-thread cache entries from another's
  admin::ExposureState& exposure_;
  store::AdminStore& admin_store_;
  registry::Registry& registry_;
  // What a Host header names: an instance's endpoint, with the token service and realm that
  // challenges and tokens on it carry.
  struct EndpointOfHost {
    const access::Instance* instance = nullptr;
    access::EndpointKind kind{};
    std::string service;
    std::string realm;
  };
  // The endpoint `host` names in `world`, or null with *why set. Valid until the next call on
  // this thread (so never across a co_await).
  const EndpointOfHost* FindEndpoint(const std::shared_ptr<const access::World>& world,
                                     std::string_view host, const ListenerConfig& listener,
                                     std::string* why) const;
  auth::TokenSigner SignerFor(const access::Instance& instance) const;
  // The claims of a registry token sent to `instance` at `service`, or null with *why set.
  // Tokens over auth::kMaxTokenSize are refused before any hashing.
  std::shared_ptr<const auth::TokenClaims> VerifyToken(const access::Instance& instance,
                                                       const std::string& service,
                                                       std::string_view token,
                                                       std::string* why) const;

  std::string master_key_;
  int64_t token_ttl_seconds_;
  AuditLog& audit_;
  LoginThrottle throttle_;
  std::optional<SharedLoginLimits> shared_logins_;
  auth::VerifiedPasswords verified_;
  PasswordChecks password_checks_;
};

}  // namespace kura::server
