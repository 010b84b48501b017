#include "server/instance_gateway.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/beast/http.hpp>
#include <ctime>
#include <nlohmann/json.hpp>

#include "access/policy.h"
#include "auth/htpasswd.h"
#include "auth/scope.h"
#include "core/json_text.h"

namespace kura::server {

namespace http = boost::beast::http;
using namespace std::string_view_literals;
using core::AppendJsonString;
using core::ErrorCode;
using core::RegistryError;
using registry::ErrorResponse;
using registry::Response;
using registry::Route;

namespace {

int64_t Now() {
  return static_cast<int64_t>(std::time(nullptr));
}

// The current second in ISO 8601 (UTC), formatted once per second per thread.
const std::string& IsoNow() {
  thread_local std::time_t formatted_second = -1;
  thread_local std::string formatted;
  std::time_t t = std::time(nullptr);
  if (t != formatted_second) {
    std::tm tm{};
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", ::gmtime_r(&t, &tm));
    formatted = buf;
    formatted_second = t;
  }
  return formatted;
}

// The host name without port, lower-cased: the token "service" of an endpoint.
std::string ServiceOf(std::string_view host) {
  if (!host.empty() && host.front() != '[') host = host.substr(0, host.rfind(':'));
  std::string out(host);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// The namespace of a repository: its first path component.
std::string NamespaceOf(std::string_view repository) {
  return std::string(repository.substr(0, repository.find('/')));
}

// What a request needs of its caller.
struct Need {
  enum class Kind { kLogin, kCatalog, kRepository, kNone } kind = Kind::kNone;
  std::string repository;
  std::string action;      // pull, push or delete
  std::string mount_from;  // cross-repository mount: pull on this one too
};

Need NeedOf(const registry::Request& req, const Route& route) {
  Need need;
  switch (route.kind) {
    case Route::Kind::kBase:
      need.kind = Need::Kind::kLogin;
      return need;
    case Route::Kind::kCatalog:
      need.kind = Need::Kind::kCatalog;
      return need;
    case Route::Kind::kUnknown:
      return need;
    default:
      break;
  }
  need.kind = Need::Kind::kRepository;
  need.repository = route.name;
  http::verb m = req.method();
  if (m == http::verb::get || m == http::verb::head) {
    need.action = std::string(auth::kActionPull);
  } else if (m == http::verb::delete_ && route.kind != Route::Kind::kUpload) {
    need.action = std::string(auth::kActionDelete);
  } else {
    need.action = std::string(auth::kActionPush);
    if (route.kind == Route::Kind::kUploadStart) {
      if (auto from = req.Query("from")) need.mount_from = *from;
    }
  }
  return need;
}

// One audit line, built by hand into `line`: it is written for every request.
void BuildAuditLine(const access::ConnectionContext& ctx, const access::Instance& instance,
                    const access::Decision& d, std::string& line) {
  // Time, address, endpoint kind and rule name are written by kura and need no escaping.
  auto append_quoted = [&line](std::string_view text) {
    line.push_back('"');
    line.append(text);
    line.push_back('"');
  };
  line.clear();
  line += "{\"time\":"sv;
  append_quoted(IsoNow());
  line += ",\"source\":"sv;
  append_quoted(ctx.source.ToString());
  line += ",\"arrival_network\":"sv;
  if (ctx.arrival_network) {
    AppendJsonString(line, ctx.arrival_network->id);
  } else {
    line += "null"sv;
  }
  line += ",\"endpoint\":"sv;
  append_quoted(access::EndpointKindName(ctx.kind));
  line += ",\"instance\":"sv;
  AppendJsonString(line, instance.name);
  line += ",\"rule\":"sv;
  append_quoted(access::RuleName(d.rule));
  line += d.allowed ? ",\"allowed\":true"sv : ",\"allowed\":false,\"reason\":"sv;
  if (!d.allowed) AppendJsonString(line, d.reason);
  line += "}\n"sv;
}

std::atomic<uint64_t> next_gateway_id{1};

}  // namespace

AuditLog::AuditLog(const std::string& path)
    : fd_(path.empty() ? STDERR_FILENO
                       : ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)),
      owned_(!path.empty()) {
  if (fd_ < 0) throw std::runtime_error("cannot open audit log " + path);
  writer_ = std::thread([this] { Run(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  writer_.join();
  if (owned_) ::close(fd_);
}

void AuditLog::Write(std::string_view line) {
  std::lock_guard lock(mu_);
  queued_ += line;
  // Only a writer asleep on an empty queue needs waking; under load it is never asleep there.
  if (writer_idle_) cv_.notify_one();
}

void AuditLog::Run() {
  std::string batch;
  std::unique_lock lock(mu_);
  while (true) {
    writer_idle_ = true;
    cv_.wait(lock, [&] { return !queued_.empty() || stopping_; });
    writer_idle_ = false;
    if (queued_.empty()) return;
    batch.swap(queued_);
    lock.unlock();
    // Whole lines in one write(2) on an O_APPEND file: they never interleave with another
    // writer's. A failed write loses these lines, never a request.
    (void)!::write(fd_, batch.data(), batch.size());
    batch.clear();
    if (batch.capacity() > (1 << 20)) batch.shrink_to_fit();  // a burst is not kept forever
    lock.lock();
    // Let lines gather before the next write: waking this thread per request cost more than the
    // write itself.
    cv_.wait_for(lock, kGatherTime, [&] { return stopping_; });
  }
}

bool LoginThrottle::Blocked(const std::string& source) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(source);
  if (it == entries_.end()) return false;
  if (std::chrono::steady_clock::now() - it->second.window_start > kWindow) {
    entries_.erase(it);
    return false;
  }
  return it->second.failures >= kMaxFailures;
}

void LoginThrottle::Failed(const std::string& source) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (entries_.size() >= kMaxTracked) {  // many failing sources: forget the windows that ended
    std::erase_if(entries_, [&](const auto& kv) { return now - kv.second.window_start > kWindow; });
  }
  Entry& e = entries_[source];
  if (e.failures == 0 || now - e.window_start > kWindow) e = Entry{0, now};
  ++e.failures;
}

void LoginThrottle::Succeeded(const std::string& source) {
  std::lock_guard lock(mu_);
  entries_.erase(source);
}

auth::TokenSigner InstanceGateway::SignerFor(const access::Instance& instance) const {
  if (instance.incarnation.empty()) return auth::TokenSigner(master_key_, "kura");
  unsigned char key[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), master_key_.data(), static_cast<int>(master_key_.size()),
       reinterpret_cast<const unsigned char*>(instance.incarnation.data()),
       instance.incarnation.size(), key, &length);
  return auth::TokenSigner(std::string(reinterpret_cast<char*>(key), length), "kura");
}

std::shared_ptr<const auth::TokenClaims> InstanceGateway::VerifyToken(
    const access::Instance& instance, const std::string& service, std::string_view token,
    std::string* why) const {
  // A token is sent on every request of a client; its signature is checked once, then the
  // verified claims are remembered per thread (no lock) until the token expires. The key holds
  // the instance's incarnation, so a cached answer never outlives the instance.
  struct Verified {
    uint64_t gateway;
    std::shared_ptr<const auth::TokenClaims> claims;
  };
  thread_local std::unordered_map<std::string, Verified> verified;
  thread_local std::string key;  // reused: no allocation per request
  constexpr size_t kMaxRemembered = 4096;
  key.clear();
  key.append(instance.incarnation).append(1, '\n').append(service).append(1, '\n').append(token);
  int64_t now = Now();
  auto hit = verified.find(key);
  if (hit != verified.end() && hit->second.gateway == id_) {
    const auth::TokenClaims& c = *hit->second.claims;
    if (now < c.expires_at && now >= c.not_before - auth::kTokenLeewaySeconds) {
      return hit->second.claims;
    }
    verified.erase(hit);
  }
  auto claims = SignerFor(instance).Verify(token, service, now, why);
  if (!claims) return nullptr;
  auto shared = std::make_shared<const auth::TokenClaims>(std::move(*claims));
  if (now < shared->expires_at) {
    if (verified.size() >= kMaxRemembered) verified.clear();
    verified[key] = Verified{id_, shared};
  }
  return shared;
}

struct InstanceGateway::Caller {
  enum class Via { kAnonymous, kPassword, kToken } via = Via::kAnonymous;
  std::string user;
  std::shared_ptr<const auth::TokenClaims> claims;  // kToken
};

InstanceGateway::InstanceGateway(admin::ExposureState& exposure,
                                 store::SqliteAdminStore& admin_store, registry::Registry& registry,
                                 std::string token_master_key, int64_t token_ttl_seconds,
                                 AuditLog& audit)
    : id_(next_gateway_id++),
      exposure_(exposure),
      admin_store_(admin_store),
      registry_(registry),
      master_key_(std::move(token_master_key)),
      token_ttl_seconds_(token_ttl_seconds),
      audit_(audit) {}

bool InstanceGateway::CheckPassword(const std::string& instance, std::string_view user,
                                    std::string_view password, int64_t now) {
  for (const auto& cred : admin_store_.FindCredentials(instance, user, now)) {
    if (verified_.Check(instance + "/" + std::string(user), password, cred.hash)) return true;
  }
  return false;
}

const InstanceGateway::EndpointOfHost* InstanceGateway::FindEndpoint(
    const std::shared_ptr<const access::World>& world, std::string_view host,
    const ListenerConfig& listener, std::string* why) const {
  // Clients send the same Host header on every request: what it names is remembered per thread
  // and per snapshot of the World (a change of the World starts a new cache).
  struct Cache {
    uint64_t gateway = 0;
    std::shared_ptr<const access::World> world;
    std::unordered_map<std::string, EndpointOfHost> endpoints;  // key: TLS flag + host
  };
  thread_local Cache cache;
  thread_local std::string key;
  constexpr size_t kMaxRemembered = 1024;
  if (cache.gateway != id_ || cache.world != world) {
    cache.gateway = id_;
    cache.world = world;
    cache.endpoints.clear();
  }
  const bool tls = !listener.tls_certificate.empty();
  key.assign(1, tls ? 's' : '-').append(host);
  if (auto hit = cache.endpoints.find(key); hit != cache.endpoints.end()) return &hit->second;
  EndpointOfHost endpoint;
  endpoint.instance = world->FindInstanceByHost(host, &endpoint.kind, why);
  if (!endpoint.instance) return nullptr;
  endpoint.service = ServiceOf(host);
  endpoint.realm = std::string(tls ? "https" : "http") + "://" + std::string(host) + "/token";
  if (cache.endpoints.size() >= kMaxRemembered) cache.endpoints.clear();
  return &cache.endpoints.emplace(key, std::move(endpoint)).first->second;
}

boost::asio::awaitable<Response> InstanceGateway::Handle(registry::Request& req, const Peer& peer,
                                                         const ListenerConfig& listener) {
  std::shared_ptr<const access::World> world = exposure_.Snapshot();
  // Host and Authorization in one pass over the fields (a lookup by name costs more than
  // walking the few fields of a request); the first of a repeated field counts, as with [].
  std::string_view host, authorization;
  bool host_seen = false, authorization_seen = false;
  for (const auto& field : req.header) {
    if (field.name() == http::field::host && !host_seen) {
      host = field.value();
      host_seen = true;
    } else if (field.name() == http::field::authorization && !authorization_seen) {
      authorization = field.value();
      authorization_seen = true;
    }
  }
  std::string why;
  const EndpointOfHost* endpoint = FindEndpoint(world, host, listener, &why);
  if (!endpoint) {
    co_return ErrorResponse(
        RegistryError(ErrorCode::kNameUnknown,
                      "no registry instance at host '" + std::string(host) + "': " + why, {}, 404));
  }
  const access::Instance* instance = endpoint->instance;
  const access::EndpointKind kind = endpoint->kind;
  // `endpoint` lives in a per-thread cache: these are used only before the first co_await.
  const std::string& service = endpoint->service;
  const std::string& realm = endpoint->realm;

  // Step 3 of EXPOSURE.md: may this connection use this endpoint?
  access::ConnectionContext ctx;
  ctx.kind = kind;
  ctx.source = peer.address;
  if (listener.role == ListenerRole::kVpc) {
    std::string network = peer.arrival_network.value_or(listener.network);
    if (!network.empty()) {
      ctx.arrival_network = world->ArrivalThrough({listener.network_account, network});
    }
  }
  access::Decision decision = access::Admit(ctx, *instance, access::Reasons::kDenialsOnly);
  thread_local std::string audit_line;  // reused: no allocation per request
  BuildAuditLine(ctx, *instance, decision, audit_line);
  audit_.Write(audit_line);
  if (!decision.allowed) {
    co_return ErrorResponse(RegistryError(ErrorCode::kDenied, decision.reason));
  }

  // Step 4: who is calling?
  Caller caller;
  if (authorization.size() > 7 &&
      (authorization.substr(0, 7) == "Bearer " || authorization.substr(0, 7) == "bearer ")) {
    auto claims = VerifyToken(*instance, service, authorization.substr(7), &why);
    if (!claims) {
      Response r = ErrorResponse(RegistryError(ErrorCode::kUnauthorized, "invalid token: " + why));
      r.fields.set(http::field::www_authenticate,
                   auth::BearerChallenge(realm, service, std::nullopt, "invalid_token"));
      co_return r;
    }
    caller.via = Caller::Via::kToken;
    caller.user = claims->subject;
    caller.claims = std::move(claims);
  } else if (!authorization.empty()) {
    auto basic = auth::ParseBasicAuthorization(authorization);
    std::string source = peer.address.ToString();
    if (throttle_.Blocked(source)) {
      co_return ErrorResponse(
          RegistryError(ErrorCode::kTooManyRequests,
                        "too many failed logins from " + source + "; try again in a minute"));
    }
    if (!basic || !CheckPassword(instance->incarnation, basic->user, basic->password, Now())) {
      throttle_.Failed(source);
      Response r = ErrorResponse(
          RegistryError(ErrorCode::kUnauthorized,
                        "incorrect username or password for instance " + instance->name));
      r.fields.set(http::field::www_authenticate, auth::BearerChallenge(realm, service));
      co_return r;
    }
    throttle_.Succeeded(source);
    caller.via = Caller::Via::kPassword;
    caller.user = basic->user;
  }

  if (req.path == "/token") {
    if (req.method() != http::verb::get) {
      co_return ErrorResponse(RegistryError(ErrorCode::kUnsupported, "use GET for tokens"));
    }
    co_return IssueToken(req, caller, *instance, service);
  }
  Route route = registry::ParseRoute(req.path);
  if (auto refused = Authorize(req, route, caller, *instance, realm, service))
    co_return std::move(*refused);
  req.instance = instance->incarnation;  // stores key an instance by its incarnation
  req.user = caller.user;
  co_return co_await registry_.Handle(req, std::move(route));
}

// GET /token?service=&scope=...: a signed token granting what the caller may have of what it
// asks: everything of the instance for a user with a password, pull of public namespaces for
// anyone. 200 {"token","access_token","expires_in","issued_at"}.
Response InstanceGateway::IssueToken(registry::Request& req, const Caller& caller,
                                     const access::Instance& instance, const std::string& service) {
  auto requested = auth::ParseScopeParams(req.QueryAll("scope"));
  if (!requested) {
    return ErrorResponse(RegistryError(ErrorCode::kUnsupported, "malformed scope", {}, 400));
  }
  const bool user = caller.via == Caller::Via::kPassword;
  std::vector<auth::Access> granted;
  for (const auth::Access& want : *requested) {
    auth::Access grant{want.type, want.name, {}};
    if (want.type == "repository") {
      for (const std::string& action : want.actions) {
        if (!auth::IsKnownAction(action)) continue;
        if (user) {
          grant.actions.insert(action);
        } else if (action == auth::kActionPull) {
          auto ns = admin_store_.FindNamespace(instance.incarnation, NamespaceOf(want.name));
          if (ns && ns->is_public) grant.actions.insert(action);
        }
      }
    } else if (want.type == "registry" && want.name == "catalog" && user) {
      grant.actions = want.actions;
    }
    if (!grant.actions.empty()) granted.push_back(std::move(grant));
  }
  int64_t now = Now();
  auth::TokenClaims claims;
  claims.subject = user ? caller.user : "";
  claims.audience = service;
  claims.issued_at = now;
  claims.not_before = now;
  claims.expires_at = now + token_ttl_seconds_;
  claims.access = std::move(granted);
  Response r;
  r.fields.set(http::field::content_type, "application/json");
  r.fields.set(http::field::cache_control, "no-store");
  r.body = auth::TokenResponseJson(SignerFor(instance).Issue(claims), token_ttl_seconds_, now);
  return r;
}

std::optional<Response> InstanceGateway::Authorize(registry::Request& req, const Route& route,
                                                   const Caller& caller,
                                                   const access::Instance& instance,
                                                   const std::string& realm,
                                                   const std::string& service) {
  Need need = NeedOf(req, route);
  if (need.kind == Need::Kind::kNone) return std::nullopt;  // the registry answers 404
  const bool signed_in = caller.via != Caller::Via::kAnonymous && !caller.user.empty();
  auto challenge = [&](std::optional<std::string> scope, std::optional<std::string_view> error) {
    Response r = ErrorResponse(RegistryError(ErrorCode::kUnauthorized, "authentication required"));
    r.fields.set(http::field::www_authenticate,
                 auth::BearerChallenge(realm, service, scope, error));
    return r;
  };
  switch (need.kind) {
    case Need::Kind::kLogin:
      if (signed_in) return std::nullopt;
      return challenge(std::nullopt, std::nullopt);
    case Need::Kind::kCatalog:
      if (caller.via == Caller::Via::kPassword) return std::nullopt;
      if (caller.via == Caller::Via::kToken &&
          auth::Allows(*caller.claims, "registry", "catalog", "*")) {
        return std::nullopt;
      }
      return challenge("registry:catalog:*", std::nullopt);
    default:
      break;
  }
  // A repository: users with a password may do everything in their instance; tokens carry what
  // they were granted; anyone may pull from a public namespace.
  auto allowed = [&](const std::string& repository, const std::string& action) {
    if (caller.via == Caller::Via::kPassword) return true;
    if (caller.via == Caller::Via::kToken) {
      if (auth::Allows(*caller.claims, "repository", repository, action)) return true;
      // DELETE is also allowed to tokens holding push, as clients that delete ask for either.
      if (action == auth::kActionDelete &&
          auth::Allows(*caller.claims, "repository", repository, auth::kActionPush)) {
        return true;
      }
    }
    if (action == auth::kActionPull) {
      auto ns = admin_store_.FindNamespace(instance.incarnation, NamespaceOf(repository));
      return ns && ns->is_public;
    }
    return false;
  };
  if (!allowed(need.repository, need.action)) {
    return challenge("repository:" + need.repository + ":" + need.action,
                     caller.via == Caller::Via::kToken
                         ? std::optional<std::string_view>("insufficient_scope")
                         : std::nullopt);
  }
  if (!need.mount_from.empty() && !allowed(need.mount_from, std::string(auth::kActionPull))) {
    // Mounting needs pull on the source; without it, fall back to a plain upload session.
    req.query.clear();
  }
  if (need.action == auth::kActionPush && signed_in) {
    // Pushing to a namespace that does not exist yet creates it, private.
    std::string ns = NamespaceOf(need.repository);
    if (!admin_store_.FindNamespace(instance.incarnation, ns)) {
      admin_store_.PutNamespace(instance.incarnation, {ns, false});
    }
  }
  return std::nullopt;
}

}  // namespace kura::server
