// The handler of the Internet and VPC endpoint listeners: everything between a request and the
// registry API of an instance, in the order of EXPOSURE.md:
//   1. the Host header names the instance and the endpoint (404 when it names none);
//   2. access::Admit decides whether this connection may use that endpoint (403 DENIED naming
//      the rule), and the decision is written as one JSON audit line;
//   3. credentials: the token endpoint (GET /token), Bearer tokens, Basic passwords of the
//      instance (permanent or temporary), anonymous pull of public namespaces; failed logins are
//      throttled per source;
//   4. the registry API, on the instance's own repositories.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "admin/exposure_state.h"
#include "auth/password.h"
#include "auth/token.h"
#include "registry/registry.h"
#include "server/http_server.h"
#include "store/admin_store.h"

namespace kura::server {

// One JSON line per admission decision. Thread-safe. Lines are queued and written by a thread of
// the log's own, as many as have queued up in one write(2): a write per request was a tenth of
// the server's CPU time under load (bench/README.md). A line reaches the file within a few
// milliseconds; on a clean stop the queue is written out before the log closes.
class AuditLog {
 public:
  // Appends to `path`, or writes to stderr when it is empty. Throws if the file cannot be opened.
  explicit AuditLog(const std::string& path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  // `line` ends with a newline.
  void Write(std::string_view line);

 private:
  void Run();

  int fd_;
  bool owned_;
  std::mutex mu_;
  std::condition_variable cv_;
  static constexpr std::chrono::milliseconds kGatherTime{2};

  std::string queued_;        // whole lines (guarded by mu_)
  bool writer_idle_ = false;  // the writer waits for a line (guarded by mu_)
  bool stopping_ = false;     // guarded by mu_
  std::thread writer_;
};

// Counts failed logins per source address; a source with too many recent failures is refused
// for a while. Thread-safe.
class LoginThrottle {
 public:
  static constexpr int kMaxFailures = 10;
  static constexpr std::chrono::seconds kWindow{60};
  static constexpr size_t kMaxTracked = 100000;

  bool Blocked(const std::string& source);
  void Failed(const std::string& source);
  void Succeeded(const std::string& source);

 private:
  struct Entry {
    int failures = 0;
    std::chrono::steady_clock::time_point window_start;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

class InstanceGateway {
 public:
  // All must outlive the gateway.
  // Registry tokens of an instance are signed with a key derived from `token_master_key` and
  // the instance's incarnation: a token never outlives the instance it was issued for.
  InstanceGateway(admin::ExposureState& exposure, store::SqliteAdminStore& admin_store,
                  registry::Registry& registry, std::string token_master_key,
                  int64_t token_ttl_seconds, AuditLog& audit);

  // Serves one request arriving on `listener`.
  boost::asio::awaitable<registry::Response> Handle(registry::Request& req, const Peer& peer,
                                                    const ListenerConfig& listener);

  // The credentials of `user` at `instance` are valid at `now`: a permanent password or an
  // unexpired temporary one.
  bool CheckPassword(const std::string& instance, std::string_view user, std::string_view password,
                     int64_t now);

 private:
  struct Caller;

  registry::Response IssueToken(registry::Request& req, const Caller& caller,
                                const access::Instance& instance, const std::string& service);
  std::optional<registry::Response> Authorize(registry::Request& req, const registry::Route& route,
                                              const Caller& caller,
                                              const access::Instance& instance,
                                              const std::string& realm, const std::string& service);

  const uint64_t id_;  // tells this gateway's per-thread token cache entries from another's
  admin::ExposureState& exposure_;
  store::SqliteAdminStore& admin_store_;
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
  // this thread.
  const EndpointOfHost* FindEndpoint(const std::shared_ptr<const access::World>& world,
                                     std::string_view host, const ListenerConfig& listener,
                                     std::string* why) const;
  auth::TokenSigner SignerFor(const access::Instance& instance) const;
  // The claims of a registry token sent to `instance` at `service`, or null with *why set.
  std::shared_ptr<const auth::TokenClaims> VerifyToken(const access::Instance& instance,
                                                       const std::string& service,
                                                       std::string_view token,
                                                       std::string* why) const;

  std::string master_key_;
  int64_t token_ttl_seconds_;
  AuditLog& audit_;
  LoginThrottle throttle_;
  auth::VerifiedPasswords verified_;
};

}  // namespace kura::server
