#include "server/instance_gateway.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <ctime>

#include "access/policy.h"
#include "auth/htpasswd.h"
#include "auth/scope.h"
#include "auth/verified_tokens.h"

namespace kura::server {

namespace http = boost::beast::http;
using core::ErrorCode;
using core::RegistryError;
using registry::ErrorResponse;
using registry::Response;
using registry::Route;

namespace {

int64_t Now() {
  return static_cast<int64_t>(std::time(nullptr));
}

// The host name without port, lower-cased: the token "service" of an endpoint.
std::string ServiceOf(std::string_view host) {
  if (!host.empty() && host.front() != '[') host = host.substr(0, host.rfind(':'));
  std::string out(host);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// The namespaces of one instance, from the admin store, for the authorization decision.
class InstanceNamespaces final : public auth::NamespaceFacts {
 public:
  InstanceNamespaces(store::AdminStore& store, const access::Instance& instance)
      : store_(store), instance_(instance) {}
  std::optional<bool> IsPublic(std::string_view name) const override {
    auto ns = store_.FindNamespace(instance_.incarnation, name);
    if (!ns) return std::nullopt;
    return ns->is_public;
  }

 private:
  store::AdminStore& store_;
  const access::Instance& instance_;
};

// The facts of a request that authorization needs, from its route and method.
auth::RequestFacts FactsOf(const registry::Request& req, const Route& route) {
  using R = auth::RequestFacts::Route;
  auth::RequestFacts facts;
  switch (route.kind) {
    case Route::Kind::kBase:
      facts.route = R::kBase;
      return facts;
    case Route::Kind::kCatalog:
      facts.route = R::kCatalog;
      return facts;
    case Route::Kind::kUnknown:
      facts.route = R::kUnknown;
      return facts;
    case Route::Kind::kUploadStart:
      facts.route = R::kUploadStart;
      break;
    case Route::Kind::kUpload:
      facts.route = R::kUploadSession;
      break;
    default:
      facts.route = R::kRepository;
      break;
  }
  facts.repository = route.name;
  http::verb m = req.method();
  using M = auth::RequestFacts::Method;
  facts.method = m == http::verb::get || m == http::verb::head ? M::kRead
                 : m == http::verb::delete_                    ? M::kDelete
                                                               : M::kWrite;
  if (facts.route == R::kUploadStart && facts.method == M::kWrite) {
    if (auto from = req.Query("from")) facts.mount_from = *from;
  }
  return facts;
}

// A user name as sent (any bytes) made safe to quote in a message: at most 64 characters, and
// anything but letters, digits and ._@- shown as '?' (the JSON body must be valid UTF-8).
std::string PrintableName(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 64)) {
    bool plain =
        std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' || c == '-';
    out.push_back(plain ? c : '?');
  }
  return out;
}

Response TooManyRequests(const std::string& message, int retry_after) {
  Response r = ErrorResponse(RegistryError(ErrorCode::kTooManyRequests, message));
  r.fields.set(http::field::retry_after, std::to_string(retry_after));
  return r;
}

std::atomic<uint64_t> next_gateway_id{1};

}  // namespace

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
  // Refused before any work: a large token would cost hashing and cache memory.
  if (token.size() > auth::kMaxTokenSize) {
    *why = auth::kTokenTooLarge;
    return nullptr;
  }
  // A token is sent on every request of a client; its signature is checked once, then the
  // verified claims are remembered per thread (no lock) until the token expires. The key holds
  // this gateway and the instance's incarnation, so a cached answer never outlives the instance.
  thread_local auth::VerifiedTokens verified;
  thread_local std::string key;  // reused: no allocation per request
  const uint64_t gateway = id_;
  auth::VerifiedTokens::KeyOf(
      {std::string_view(reinterpret_cast<const char*>(&gateway), sizeof gateway),
       instance.incarnation, service, token},
      key);
  int64_t now = Now();
  if (auto hit = verified.Find(key, now)) return hit;
  auto claims = SignerFor(instance).Verify(token, service, now, why);
  if (!claims) return nullptr;
  auto shared = std::make_shared<const auth::TokenClaims>(std::move(*claims));
  verified.Remember(key, shared, now);
  return shared;
}

InstanceGateway::InstanceGateway(admin::ExposureState& exposure, store::AdminStore& admin_store,
                                 registry::Registry& registry, std::string token_master_key,
                                 int64_t token_ttl_seconds, AuditLog& audit,
                                 unsigned password_threads)
    : id_(next_gateway_id++),
      exposure_(exposure),
      admin_store_(admin_store),
      registry_(registry),
      master_key_(std::move(token_master_key)),
      token_ttl_seconds_(token_ttl_seconds),
      audit_(audit),
      password_checks_(password_threads) {}

boost::asio::awaitable<InstanceGateway::SignIn> InstanceGateway::SignInWithPassword(
    std::string_view authorization, const Peer& peer, const access::Instance& instance,
    auth::Principal* caller) {
  auto basic = auth::ParseBasicAuthorization(authorization);
  // The count is per instance incarnation: a new instance of the same name starts afresh.
  LoginThrottle::Begun begun = throttle_.Begin(
      peer.address, basic ? std::optional<std::string_view>(instance.incarnation) : std::nullopt,
      basic ? std::string_view(basic->user) : std::string_view());
  if (begun.attempt && basic && shared_logins_) {
    // The other nodes' failures too: a guesser spreading over them meets the same limit.
    if (auto no = shared_logins_->Check(peer.address, instance.incarnation, basic->user)) {
      begun.attempt.reset();
      begun.refusal = *no;
    }
  }
  if (!begun.attempt) {
    const LoginThrottle::Refusal& no = begun.refusal;
    SignIn out{SignIn::Result::kThrottled, {}, static_cast<int>(no.retry_after.count())};
    std::string wait = "; try again in " + std::to_string(out.retry_after) + " s";
    switch (no.reason) {
      case LoginThrottle::Refusal::Reason::kSource:
        out.message = "too many failed logins from " + peer.address.ToString() + wait;
        break;
      case LoginThrottle::Refusal::Reason::kUser:
        out.message = "too many failed logins for user " + PrintableName(basic->user) +
                      " of instance " + instance.name + wait;
        break;
      case LoginThrottle::Refusal::Reason::kFull:
        out.message = "too many failed logins to keep track of" + wait;
        break;
    }
    co_return out;
  }
  LoginThrottle::Attempt& attempt = *begun.attempt;
  if (!basic) {
    attempt.Failed();
    co_return SignIn{};
  }
  // The user's credentials (a permanent password and unexpired temporary ones); good answers are
  // remembered for a few minutes, so only a miss costs a bcrypt check, on the password pool.
  std::vector<std::string> hashes;
  std::string remembered_as = instance.incarnation + "/" + basic->user;
  for (auto& cred : admin_store_.FindCredentials(instance.incarnation, basic->user, Now())) {
    if (verified_.Remembered(remembered_as, basic->password, cred.hash)) {
      // The shared counts are left as they are: clearing them would cost every login a write.
      attempt.Succeeded();
      caller->via = auth::Principal::Via::kPassword;
      caller->user = basic->user;
      co_return SignIn{SignIn::Result::kSignedIn, {}, 0};
    }
    hashes.push_back(std::move(cred.hash));
  }
  auto failed = [&] {
    attempt.Failed();
    if (shared_logins_) shared_logins_->Failed(peer.address, instance.incarnation, basic->user);
  };
  auto succeeded = [&] {
    attempt.Succeeded();
    if (shared_logins_) shared_logins_->Succeeded(instance.incarnation, basic->user);
  };
  if (hashes.empty()) {
    failed();
    co_return SignIn{};
  }
  PasswordChecks::Outcome checked =
      co_await password_checks_.AsyncCheck(basic->password, hashes, boost::asio::use_awaitable);
  switch (checked.kind) {
    case PasswordChecks::Outcome::Kind::kBusy:
      co_return SignIn{SignIn::Result::kBusy, "too many logins being checked; try again shortly",
                       1};
    case PasswordChecks::Outcome::Kind::kNoMatch:
      failed();
      co_return SignIn{};
    case PasswordChecks::Outcome::Kind::kMatch:
      break;
  }
  verified_.Remember(remembered_as, basic->password, hashes[checked.matched]);
  succeeded();
  caller->via = auth::Principal::Via::kPassword;
  caller->user = basic->user;
  co_return SignIn{SignIn::Result::kSignedIn, {}, 0};
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
  try {
    co_return co_await Serve(req, peer, listener);
  } catch (const store::StoreError& e) {
    co_return registry::StoreFailureResponse(e);
  }
}

boost::asio::awaitable<Response> InstanceGateway::Serve(registry::Request& req, const Peer& peer,
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
  // The instance lives in `world`, held here; `endpoint` lives in a per-thread cache and is
  // looked up again after a co_await.
  const access::Instance* instance = endpoint->instance;

  // Step 3 of EXPOSURE.md: may this connection use this endpoint?
  access::ConnectionContext ctx;
  ctx.kind = endpoint->kind;
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
  auth::Principal caller;
  if (authorization.size() > 7 &&
      (authorization.substr(0, 7) == "Bearer " || authorization.substr(0, 7) == "bearer ")) {
    auto claims = VerifyToken(*instance, endpoint->service, authorization.substr(7), &why);
    if (!claims) {
      Response r = ErrorResponse(RegistryError(ErrorCode::kUnauthorized, "invalid token: " + why));
      r.fields.set(
          http::field::www_authenticate,
          auth::BearerChallenge(endpoint->realm, endpoint->service, std::nullopt, "invalid_token"));
      co_return r;
    }
    caller.via = auth::Principal::Via::kToken;
    caller.user = claims->subject;
    caller.claims = std::move(claims);
  } else if (!authorization.empty()) {
    SignIn signed_in = co_await SignInWithPassword(authorization, peer, *instance, &caller);
    endpoint = FindEndpoint(world, host, listener, &why);  // the same World: the same answer
    if (!endpoint) co_return ErrorResponse(RegistryError(ErrorCode::kNameUnknown, why, {}, 404));
    switch (signed_in.result) {
      case SignIn::Result::kSignedIn:
        break;
      case SignIn::Result::kThrottled:
      case SignIn::Result::kBusy:
        co_return TooManyRequests(signed_in.message, signed_in.retry_after);
      case SignIn::Result::kWrong: {
        Response r = ErrorResponse(
            RegistryError(ErrorCode::kUnauthorized,
                          "incorrect username or password for instance " + instance->name));
        r.fields.set(http::field::www_authenticate,
                     auth::BearerChallenge(endpoint->realm, endpoint->service));
        co_return r;
      }
    }
  }

  if (req.path == "/token") {
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      co_return ErrorResponse(RegistryError(ErrorCode::kUnsupported, "use GET for tokens"));
    }
    co_return IssueToken(req, caller, *instance, endpoint->service);
  }
  Route route = registry::ParseRoute(req.path);
  if (auto refused = Authorize(req, route, caller, *instance, endpoint->realm, endpoint->service))
    co_return std::move(*refused);
  req.instance = instance->incarnation;  // stores key an instance by its incarnation
  req.user = caller.user;
  co_return co_await registry_.Handle(req, std::move(route));
}

// GET /token?service=&scope=...: a signed token granting what auth::GrantToken says the caller
// may have of what it asks. 200 {"token","access_token","expires_in","issued_at"}; 400 DENIED
// when the token would be larger than auth::kMaxTokenSize (too many scopes at once).
Response InstanceGateway::IssueToken(registry::Request& req, const auth::Principal& caller,
                                     const access::Instance& instance, const std::string& service) {
  auto requested = auth::ParseScopeParams(req.QueryAll("scope"));
  if (!requested) {
    return ErrorResponse(RegistryError(ErrorCode::kUnsupported, "malformed scope", {}, 400));
  }
  auth::TokenGrant grant =
      auth::GrantToken(*requested, caller, InstanceNamespaces(admin_store_, instance));
  int64_t now = Now();
  auth::TokenClaims claims;
  claims.subject = std::move(grant.subject);
  claims.audience = service;
  claims.issued_at = now;
  claims.not_before = now;
  claims.expires_at = now + token_ttl_seconds_;
  claims.access = std::move(grant.access);
  std::string token = SignerFor(instance).Issue(claims);
  if (token.size() > auth::kMaxTokenSize) {
    return ErrorResponse(RegistryError(
        ErrorCode::kDenied,
        "the token for these scopes would be larger than 8 KiB; ask for fewer at once", {}, 400));
  }
  Response r;
  r.fields.set(http::field::content_type, "application/json");
  r.fields.set(http::field::cache_control, "no-store");
  r.body = auth::TokenResponseJson(token, token_ttl_seconds_, now);
  return r;
}

std::optional<Response> InstanceGateway::Authorize(registry::Request& req, const Route& route,
                                                   const auth::Principal& caller,
                                                   const access::Instance& instance,
                                                   const std::string& realm,
                                                   const std::string& service) {
  InstanceNamespaces namespaces(admin_store_, instance);
  auth::RequestDecision d = auth::DecideRequest(FactsOf(req, route), caller, namespaces);
  if (d.verdict == auth::RequestDecision::Verdict::kChallenge) {
    Response r = ErrorResponse(RegistryError(ErrorCode::kUnauthorized, "authentication required"));
    r.fields.set(
        http::field::www_authenticate,
        auth::BearerChallenge(
            realm, service, d.scope.empty() ? std::nullopt : std::optional<std::string>(d.scope),
            d.error.empty() ? std::nullopt : std::optional<std::string_view>(d.error)));
    return r;
  }
  // Mounting needs pull on the source; without it, fall back to a plain upload session.
  if (d.drop_mount) req.query.clear();
  if (!d.create_namespace.empty()) {
    admin_store_.PutNamespace(instance.incarnation, {std::string(d.create_namespace), false});
  }
  return std::nullopt;
}

}  // namespace kura::server
