#include "admin/admin_api.h"

#include <openssl/crypto.h>

#include <boost/beast/http.hpp>
#include <ctime>
#include <nlohmann/json.hpp>

#include "access/hostnames.h"
#include "admin/input_text.h"
#include "admin/world_document.h"
#include "auth/password.h"
#include "auth/token.h"
#include "core/bounded_json.h"
#include "core/names.h"

namespace kura::admin {

namespace http = boost::beast::http;
using nlohmann::json;
using registry::Response;

namespace {

constexpr size_t kMaxBodyBytes = 16 * 1024 * 1024;  // a 10,000-entry allowlist fits easily
constexpr int64_t kMaxTemporaryTtl = 7 * 24 * 3600;

Response JsonResponse(http::status status, const json& body) {
  Response r;
  r.status = status;
  r.fields.set(http::field::content_type, "application/json");
  // Whatever a message echoes, the answer is valid JSON (invalid UTF-8 becomes U+FFFD).
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

Response Error(http::status status, const std::string& message) {
  return JsonResponse(status, json{{"error", message}});
}

http::status StatusOf(const access::Status& s) {
  using Code = access::Status::Code;
  switch (s.code()) {
    case Code::kOk: return http::status::ok;
    case Code::kInvalidArgument: return http::status::bad_request;
    case Code::kNotFound: return http::status::not_found;
    case Code::kAlreadyExists: return http::status::conflict;
    case Code::kRefused: return http::status::forbidden;
    case Code::kExhausted: return http::status::conflict;
  }
  return http::status::internal_server_error;
}

// Thrown inside a call for a one-line client error.
struct CallError {
  http::status status;
  std::string message;
};

std::string Str(const json& body, const char* key, bool required = true) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required) throw CallError{http::status::bad_request, std::string("missing field ") + key};
    return {};
  }
  if (!it->is_string()) {
    throw CallError{http::status::bad_request, std::string(key) + " must be a string"};
  }
  return it->get<std::string>();
}

// A user name from a path or a body, or a 400 naming what is wrong with it.
const std::string& UserName(const std::string& user) {
  if (auto problem = UserNameProblem(user)) throw CallError{http::status::bad_request, *problem};
  return user;
}

// The optional "description" of an allowlist entry, or a 400 naming what is wrong with it.
std::string Description(const json& entry) {
  std::string description = Str(entry, "description", false);
  if (auto problem = DescriptionProblem(description)) {
    throw CallError{http::status::bad_request, *problem};
  }
  return description;
}

core::Cidr ParseCidrOrThrow(const std::string& text) {
  std::string why;
  auto cidr = core::Cidr::Parse(text, &why);
  if (!cidr) throw CallError{http::status::bad_request, why};
  return *cidr;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  while (!path.empty()) {
    size_t slash = path.find('/');
    if (slash != 0) parts.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

json NetworkJson(const access::World& world, const access::Network& n) {
  json cidrs = json::array();
  for (const auto& c : n.cidrs) cidrs.push_back(c.ToString());
  json subnets = json::array();
  for (const auto& [id, s] : world.subnets()) {
    if (s.network == n.key()) subnets.push_back({{"id", id}, {"cidr", s.cidr.ToString()}});
  }
  return {{"id", n.id},         {"account", n.account}, {"region", n.region},
          {"cidrs", cidrs},     {"subnets", subnets}};
}

}  // namespace

struct AdminApi::Call {
  registry::Request& req;
  std::string account;
  std::vector<std::string> parts;  // path after /api/v1
  json body;
};

AdminApi::AdminApi(ExposureState& exposure, store::AdminStore& store,
                   store::MetaStore& registry, std::map<std::string, std::string> tokens)
    : exposure_(exposure), store_(store), registry_(registry), tokens_(std::move(tokens)) {}

std::string AdminApi::DescribeInstance(const access::World& world, const access::Instance& i) {
  json allowlist = AllowlistJson(i.internet.allowlist);
  json bindings = BindingsJson(i.vpc);
  bool personal = i.edition == access::Edition::kPersonal;
  json out = {
      {"name", i.name},
      {"account", i.account},
      {"region", i.region},
      {"edition", access::EditionName(i.edition)},
      {"internet",
       {{"hostname", world.Hostname(i, access::EndpointKind::kInternet)},
        {"enabled", personal || i.internet.enabled},
        {"open_to_all", personal},
        {"allowlist", allowlist}}},
      {"vpc",
       {{"hostname", world.Hostname(i, access::EndpointKind::kVpc)},
        {"regional", personal},
        {"bindings", bindings}}},
  };
  return out.dump();
}

boost::asio::awaitable<Response> AdminApi::Handle(registry::Request& req) {
  std::string_view authorization = req.header[http::field::authorization];
  std::string account;
  if (authorization.substr(0, 7) == "Bearer ") {
    std::string_view token = authorization.substr(7);
    for (const auto& [t, a] : tokens_) {
      if (t.size() == token.size() && CRYPTO_memcmp(t.data(), token.data(), t.size()) == 0) {
        account = a;
      }
    }
  }
  if (account.empty()) {
    Response r = Error(http::status::unauthorized, "an account's admin token is required");
    r.fields.set(http::field::www_authenticate, "Bearer realm=\"kura-admin\"");
    co_return r;
  }
  if (req.path.substr(0, 8) != "/api/v1/") {
    co_return Error(http::status::not_found, "no such API: " + Printable(req.path));
  }
  Call call{req, account, SplitPath(std::string_view(req.path).substr(8)), json::object()};
  std::string body;
  char buf[16384];
  try {
    while (size_t n = co_await req.body.Read(buf, sizeof buf)) {
      if (body.size() + n > kMaxBodyBytes) {
        co_return Error(http::status::payload_too_large, "request body over 16 MiB");
      }
      body.append(buf, n);
    }
  } catch (const registry::BodyError& e) {
    co_return Error(http::status::bad_request, std::string("body cut short: ") + e.what());
  }
  if (!body.empty()) {
    std::string why;
    std::optional<json> parsed = core::ParseBoundedJson(body, &why);
    if (!parsed) co_return Error(http::status::bad_request, "the body is " + why);
    if (!parsed->is_object()) {
      co_return Error(http::status::bad_request, "the body must be a JSON object");
    }
    call.body = std::move(*parsed);
  }
  try {
    co_return Route(call);
  } catch (const CallError& e) {
    co_return Error(e.status, e.message);
  } catch (const store::InstanceGone& e) {
    // Deleted while this call was on its way: nothing was stored.
    co_return Error(http::status::not_found, e.what());
  } catch (const store::StoreUnavailable& e) {
    // The database cannot be reached right now (store/meta_store.h): nothing was done.
    Response r = Error(http::status::service_unavailable, e.what());
    r.fields.set(http::field::retry_after, "1");
    co_return r;
  } catch (const store::StoreError& e) {
    co_return Error(http::status::internal_server_error, e.what());
  }
}

Response AdminApi::Route(Call& call) {
  const auto& p = call.parts;
  const http::verb m = call.req.method();
  const std::string& me = call.account;
  auto world = exposure_.Snapshot();
  // Applies one World operation; the error response when it is refused.
  auto change = [&](const std::function<access::Status(access::World&)>& fn)
      -> std::optional<Response> {
    access::Status s = exposure_.Change(fn);
    if (!s.ok()) return Error(StatusOf(s), s.message());
    return std::nullopt;
  };
  // The instance named p[1], if it belongs to the caller.
  auto own_instance = [&](const access::World& w) -> const access::Instance& {
    const access::Instance* i = w.FindInstance(p[1]);
    if (!i || i->account != me) {
      throw CallError{http::status::not_found,
                      "no instance " + Printable(p[1]) + " in account " + me};
    }
    return *i;
  };
  auto ensure_region = [](access::World& w, const std::string& region) {
    if (w.FindRegion(region)) return access::Status::Ok();
    return w.AddRegion({region, region});
  };

  if (call.body.contains("account") && call.body["account"] != me) {
    throw CallError{http::status::forbidden,
                    "this token acts for account " + me + ", not " + call.body["account"].dump()};
  }
  if (p.size() == 1 && p[0] == "whoami" && m == http::verb::get) {
    return JsonResponse(http::status::ok, {{"account", me}});
  }

  // ---- networks and subnets
  if (p.size() == 1 && p[0] == "networks") {
    if (m == http::verb::get) {
      json out = json::array();
      for (const auto& [id, n] : world->networks()) {
        if (n.account == me) out.push_back(NetworkJson(*world, n));
      }
      return JsonResponse(http::status::ok, out);
    }
    if (m == http::verb::post) {
      access::Network n{Str(call.body, "id"), me, Str(call.body, "region"), {}};
      auto cidrs = call.body.find("cidrs");
      if (cidrs == call.body.end() || !cidrs->is_array() || cidrs->empty()) {
        throw CallError{http::status::bad_request, "cidrs must be a non-empty list"};
      }
      for (const auto& c : *cidrs) {
        if (!c.is_string()) throw CallError{http::status::bad_request, "cidrs must be strings"};
        n.cidrs.push_back(ParseCidrOrThrow(c.get<std::string>()));
      }
      if (auto e = change([&](access::World& w) {
            access::Status s = ensure_region(w, n.region);
            return s.ok() ? w.AddNetwork(n) : s;
          })) {
        return std::move(*e);
      }
      auto after = exposure_.Snapshot();
      return JsonResponse(http::status::created, NetworkJson(*after, *after->FindNetwork(n.key())));
    }
  }
  if (p.size() == 1 && p[0] == "subnets" && m == http::verb::post) {
    // Only into a network of the caller's account.
    const std::string network = Str(call.body, "network");
    access::Subnet s{Str(call.body, "id"), access::ParseNetworkName(network, me),
                     ParseCidrOrThrow(Str(call.body, "cidr"))};
    if (s.network.account != me || !world->FindNetwork(s.network)) {
      throw CallError{http::status::not_found,
                      "no network " + Printable(network) + " in account " + me};
    }
    if (auto e = change([&](access::World& w) { return w.AddSubnet(s); })) return std::move(*e);
    return JsonResponse(http::status::created,
                        {{"id", s.id}, {"network", s.network.id}, {"cidr", s.cidr.ToString()}});
  }

  // ---- instances
  if (p.empty() || p[0] != "instances") {
    throw CallError{http::status::not_found, "no such API: " + Printable(call.req.path)};
  }
  if (p.size() == 1) {
    if (m == http::verb::get) {
      json out = json::array();
      for (const auto& [name, i] : world->instances()) {
        if (i.account == me) out.push_back(json::parse(DescribeInstance(*world, i)));
      }
      return JsonResponse(http::status::ok, out);
    }
    if (m == http::verb::post) {
      std::string name = Str(call.body, "name");
      std::string region = Str(call.body, "region");
      auto edition = access::ParseEdition(Str(call.body, "edition"));
      if (!edition) {
        throw CallError{http::status::bad_request, "edition must be personal or enterprise"};
      }
      if (auto e = change([&](access::World& w) {
            access::Status s = ensure_region(w, region);
            return s.ok() ? w.CreateInstance(name, me, region, *edition, auth::RandomSecret()) : s;
          })) {
        return std::move(*e);
      }
      auto after = exposure_.Snapshot();
      Response r;
      r.status = http::status::created;
      r.fields.set(http::field::content_type, "application/json");
      r.body = DescribeInstance(*after, *after->FindInstance(name));
      return r;
    }
    throw CallError{http::status::method_not_allowed, "use GET or POST"};
  }

  const access::Instance& instance = own_instance(*world);
  const std::string name = instance.name;
  // Credentials and namespaces are kept under the incarnation, never the name (instance_stores.h).
  const std::string key = instance.incarnation;
  auto describe = [&]() {
    auto after = exposure_.Snapshot();
    Response r;
    r.fields.set(http::field::content_type, "application/json");
    r.body = DescribeInstance(*after, *after->FindInstance(name));
    return r;
  };

  if (p.size() == 2) {
    if (m == http::verb::get) return describe();
    if (m == http::verb::delete_) {
      // Three commits (instance_stores.h): once the World no longer holds the instance, no
      // request is admitted for it; the tombstones then refuse what was admitted before.
      if (auto e = change([&](access::World& w) { return w.DeleteInstance(name); })) {
        return std::move(*e);
      }
      registry_.DeleteInstance(key);
      store_.DeleteInstanceState(key);
      return JsonResponse(http::status::ok, {{"deleted", name}});
    }
    throw CallError{http::status::method_not_allowed, "use GET or DELETE"};
  }

  const std::string& what = p[2];
  if (what == "internet" && p.size() == 4 && m == http::verb::post &&
      (p[3] == "enable" || p[3] == "disable")) {
    bool enable = p[3] == "enable";
    if (auto e = change([&](access::World& w) { return w.SetInternetEnabled(name, enable); })) {
      return std::move(*e);
    }
    return describe();
  }
  if (what == "internet" && p.size() == 4 && p[3] == "allowlist") {
    if (m == http::verb::post) {
      access::AllowlistEntry entry{ParseCidrOrThrow(Str(call.body, "cidr")),
                                   Description(call.body)};
      if (auto e = change([&](access::World& w) { return w.AllowCidr(name, entry); }))
        return std::move(*e);
      return describe();
    }
    if (m == http::verb::put) {
      auto entries = call.body.find("entries");
      if (entries == call.body.end() || !entries->is_array()) {
        throw CallError{http::status::bad_request, "entries must be a list"};
      }
      std::vector<access::AllowlistEntry> list;
      for (const auto& e : *entries) {
        if (!e.is_object()) throw CallError{http::status::bad_request, "entries are objects"};
        list.push_back({ParseCidrOrThrow(Str(e, "cidr")), Description(e)});
      }
      if (auto e = change([&](access::World& w) {
            return w.ReplaceAllowlist(name, std::move(list));
          })) {
        return std::move(*e);
      }
      return describe();
    }
    if (m == http::verb::delete_) {
      auto cidr = call.req.Query("cidr");
      if (!cidr) throw CallError{http::status::bad_request, "missing ?cidr="};
      core::Cidr c = ParseCidrOrThrow(*cidr);
      if (auto e = change([&](access::World& w) { return w.RevokeCidr(name, c); })) return std::move(*e);
      return describe();
    }
  }
  if (what == "vpc" && p.size() >= 4 && p[3] == "bindings") {
    if (p.size() == 4 && m == http::verb::post) {
      // A network of the caller's account by its id; another account's as ACCOUNT/ID (which
      // the World refuses to bind, saying why).
      const access::NetworkKey network = access::ParseNetworkName(Str(call.body, "network"), me);
      std::string subnet = Str(call.body, "subnet", false);
      if (subnet.empty()) {
        // Without a subnet, the network's first one (in id order).
        for (const auto& [id, s] : world->subnets()) {
          if (s.network == network) {
            subnet = id;
            break;
          }
        }
        if (subnet.empty() && world->FindNetwork(network)) {
          throw CallError{http::status::bad_request, "network " + Printable(network.id) +
                                                         " has no subnet to place the endpoint in"};
        }
      }
      if (auto e = change([&](access::World& w) { return w.Bind(name, network, subnet); })) {
        return std::move(*e);
      }
      return describe();
    }
    if (p.size() == 5 && m == http::verb::delete_) {
      if (auto e = change([&](access::World& w) { return w.Unbind(name, p[4]); })) return std::move(*e);
      return describe();
    }
  }
  if (what == "credentials") {
    if (p.size() == 3 && m == http::verb::get) {
      return JsonResponse(http::status::ok, {{"users", store_.ListUsers(key)}});
    }
    if (p.size() == 4 && m == http::verb::put) {
      const std::string& user = UserName(p[3]);
      std::string password = Str(call.body, "password");
      if (password.size() < 8) {
        throw CallError{http::status::bad_request, "the password must have 8 characters or more"};
      }
      store_.SetPassword(key, user, auth::HashPassword(password));
      return JsonResponse(http::status::ok, {{"instance", name}, {"user", user}});
    }
  }
  if (what == "tokens" && p.size() == 3 && m == http::verb::post) {
    std::string user = UserName(Str(call.body, "user"));
    int64_t ttl = 43200;
    if (auto t = call.body.find("ttl_seconds"); t != call.body.end()) {
      if (!t->is_number_integer()) {
        throw CallError{http::status::bad_request, "ttl_seconds must be an integer"};
      }
      ttl = t->get<int64_t>();
    }
    if (ttl < 60 || ttl > kMaxTemporaryTtl) {
      throw CallError{http::status::bad_request, "ttl must be between 60 s and 7 days"};
    }
    int64_t now = static_cast<int64_t>(std::time(nullptr));
    std::string password = auth::RandomSecret();
    store_.AddTemporaryPassword(key, user, auth::HashPassword(password), now + ttl, now);
    return JsonResponse(http::status::created, {{"instance", name},
                                                {"user", user},
                                                {"password", password},
                                                {"expires_at", auth::FormatRfc3339Utc(now + ttl)}});
  }
  if (what == "namespaces" && p.size() == 3) {
    if (m == http::verb::get) {
      json out = json::array();
      for (const auto& ns : store_.ListNamespaces(key)) {
        out.push_back({{"name", ns.name}, {"visibility", ns.is_public ? "public" : "private"}});
      }
      return JsonResponse(http::status::ok, out);
    }
    if (m == http::verb::post) {
      std::string ns = Str(call.body, "name");
      std::string visibility = Str(call.body, "visibility", false);
      if (visibility.empty()) visibility = "private";
      if (visibility != "public" && visibility != "private") {
        throw CallError{http::status::bad_request, "visibility must be public or private"};
      }
      if (ns.find('/') != std::string::npos || !core::IsValidRepositoryName(ns)) {
        throw CallError{http::status::bad_request,
                        "invalid namespace name " + Printable(ns) +
                            ": it is a repository name component (a-z, 0-9 and . _ -)"};
      }
      store_.PutNamespace(key, {ns, visibility == "public"});
      return JsonResponse(http::status::created, {{"name", ns}, {"visibility", visibility}});
    }
  }
  throw CallError{http::status::not_found, "no such API: " + Printable(call.req.path)};
}

}  // namespace kura::admin
