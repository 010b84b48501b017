#include "server/config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <set>

#include "access/hostnames.h"

namespace kura::server {
namespace {

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void Fail(const std::string& key, const std::string& why) const {
    throw ConfigError(path_ + ": " + key + ": " + why);
  }
  std::string String(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) Fail(key, "must be a string");
    return n.as<std::string>();
  }
  void OnlyKeys(const YAML::Node& n, const std::string& key,
                const std::set<std::string>& known) const {
    if (!n.IsMap()) Fail(key.empty() ? "top level" : key, "must be a mapping");
    for (const auto& kv : n) {
      std::string k = kv.first.as<std::string>();
      if (!known.count(k)) Fail(key.empty() ? k : key + "." + k, "unknown key");
    }
  }
  void Tls(const YAML::Node& n, const std::string& key, ListenerConfig& l) const {
    OnlyKeys(n, key, {"certificate", "key"});
    if (!n["certificate"] || !n["key"]) Fail(key, "needs both certificate and key");
    l.tls_certificate = String(n["certificate"], key + ".certificate");
    l.tls_key = String(n["key"], key + ".key");
  }
  void Listen(const YAML::Node& n, const std::string& key, ListenerConfig& l) const {
    try {
      SetListen(l, String(n, key));
    } catch (const ConfigError& e) {
      Fail(key, e.what());
    }
  }
  ListenerConfig Endpoint(const YAML::Node& n, const std::string& key) const {
    OnlyKeys(
        n, key,
        {"listen", "endpoint", "network", "network_account", "netns", "proxy_protocol", "tls"});
    ListenerConfig l;
    if (!n["listen"]) Fail(key, "needs listen");
    Listen(n["listen"], key + ".listen", l);
    std::string kind = n["endpoint"] ? String(n["endpoint"], key + ".endpoint") : "";
    if (kind == "internet") {
      l.role = ListenerRole::kInternet;
    } else if (kind == "vpc") {
      l.role = ListenerRole::kVpc;
    } else {
      Fail(key + ".endpoint", "must be internet or vpc");
    }
    if (n["network"]) l.network = String(n["network"], key + ".network");
    if (n["network_account"]) {
      l.network_account = String(n["network_account"], key + ".network_account");
    }
    if (l.role == ListenerRole::kVpc && l.network.empty() && !n["proxy_protocol"]) {
      Fail(key, "a vpc endpoint needs the network it sits in, or PROXY protocol naming it");
    }
    // A network id is unique in its account only: whose network this is must be said.
    if (!l.network.empty() && l.network.find('/') != std::string::npos) {
      Fail(key + ".network",
           "'" + l.network + "' is not a network id; name the owner in network_account");
    }
    if (l.role == ListenerRole::kVpc && l.network_account.empty()) {
      Fail(key, l.network.empty()
                    ? "a vpc endpoint needs network_account: the account owning the networks its "
                      "PROXY relay names"
                    : "network " + l.network +
                          " needs network_account: the account that owns it (network ids are "
                          "unique within an account only)");
    }
    if (n["netns"]) l.netns = String(n["netns"], key + ".netns");
    if (auto pp = n["proxy_protocol"]) ProxySenders(pp, key + ".proxy_protocol", l);
    if (n["tls"]) Tls(n["tls"], key + ".tls", l);
    return l;
  }

  // The trusted PROXY protocol senders of a listener: a list of CIDRs.
  void ProxySenders(const YAML::Node& n, const std::string& key, ListenerConfig& l) const {
    if (!n.IsSequence()) Fail(key, "must be a list of CIDRs");
    for (size_t i = 0; i < n.size(); ++i) {
      std::string error;
      auto cidr = core::Cidr::Parse(String(n[i], key), &error);
      if (!cidr) Fail(key + "[" + std::to_string(i) + "]", error);
      l.proxy_senders.push_back(*cidr);
    }
  }

  S3Settings S3(const YAML::Node& n, const std::string& key) const {
    OnlyKeys(n, key, {"endpoint", "bucket", "prefix", "region", "access_key", "secret_key"});
    S3Settings s;
    auto text = [&](const char* k, std::string* out) {
      if (n[k]) *out = String(n[k], key + "." + k);
    };
    text("endpoint", &s.endpoint);
    text("bucket", &s.bucket);
    text("prefix", &s.prefix);
    text("region", &s.region);
    text("access_key", &s.access_key);
    text("secret_key", &s.secret_key);
    if (s.endpoint.empty()) {
      if (const char* env = std::getenv("AWS_ENDPOINT_URL")) s.endpoint = env;
    }
    if (!s.endpoint.starts_with("http://") && !s.endpoint.starts_with("https://")) {
      Fail(key + ".endpoint", s.endpoint.empty() ? "is required (or AWS_ENDPOINT_URL)"
                                                 : "must start with http:// or https://");
    }
    if (s.bucket.empty()) Fail(key + ".bucket", "is required");
    if (!s.prefix.empty() && s.prefix.back() != '/') s.prefix += '/';
    return s;
  }

 private:
  std::string path_;
};

}  // namespace

void SetListen(ListenerConfig& listener, const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    throw ConfigError("listen address '" + address + "' must be HOST:PORT");
  }
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || p != port.data() + port.size() || value > 65535) {
    throw ConfigError("listen address '" + address + "' has an invalid port");
  }
  listener.host = host.empty() ? "0.0.0.0" : host;
  listener.port = static_cast<uint16_t>(value);
}

ServerConfig LoadConfig(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw ConfigError(path + ": " + e.what());
  }
  ServerConfig config;
  if (root.IsNull()) return config;
  Reader r(path);
  r.OnlyKeys(root, "",
             {"listen", "data", "threads", "tls", "auth", "log", "limits", "domain", "token_ttl",
              "endpoints", "admin", "metadata", "blobs", "health", "proxy_protocol"});
  if (auto listen = root["listen"]) {
    if (r.String(listen, "listen").empty()) {
      config.registry_enabled = false;
    } else {
      r.Listen(listen, "listen", config.registry);
    }
  }
  if (root["data"]) config.data_dir = r.String(root["data"], "data");
  if (root["threads"]) {
    try {
      config.threads = root["threads"].as<unsigned>();
    } catch (const YAML::Exception&) {
      r.Fail("threads", "must be a non-negative integer");
    }
    if (config.threads > kMaxThreads) {
      r.Fail("threads", "must be at most " + std::to_string(kMaxThreads));
    }
  }
  if (root["tls"]) r.Tls(root["tls"], "tls", config.registry);
  if (root["proxy_protocol"])
    r.ProxySenders(root["proxy_protocol"], "proxy_protocol", config.registry);
  if (auto auth = root["auth"]) {
    r.OnlyKeys(auth, "auth", {"htpasswd", "realm"});
    if (!auth["htpasswd"]) r.Fail("auth", "needs htpasswd");
    config.htpasswd = r.String(auth["htpasswd"], "auth.htpasswd");
    if (auth["realm"]) config.realm = r.String(auth["realm"], "auth.realm");
  }
  if (auto log = root["log"]) {
    r.OnlyKeys(log, "log", {"access", "audit"});
    if (log["access"]) config.access_log = log["access"].as<bool>(false);
    if (log["audit"]) config.audit_log = r.String(log["audit"], "log.audit");
  }
  if (auto limits = root["limits"]) {
    r.OnlyKeys(limits, "limits", {"uploads", "uploads_per_instance"});
    auto count = [&](const char* key, size_t* out) {
      if (!limits[key]) return;
      std::string where = std::string("limits.") + key;
      try {
        *out = limits[key].as<size_t>();
      } catch (const YAML::Exception&) {
        r.Fail(where, "must be a positive integer");
      }
      if (*out == 0 || *out > 100000) r.Fail(where, "must be between 1 and 100000");
    };
    count("uploads", &config.max_uploads);
    count("uploads_per_instance", &config.max_uploads_per_instance);
  }
  if (auto metadata = root["metadata"]) {
    r.OnlyKeys(metadata, "metadata", {"postgres"});
    if (!metadata["postgres"]) r.Fail("metadata", "needs postgres");
    config.postgres = r.String(metadata["postgres"], "metadata.postgres");
    if (config.postgres.empty()) r.Fail("metadata.postgres", "must not be empty");
  }
  if (auto blobs = root["blobs"]) {
    r.OnlyKeys(blobs, "blobs", {"s3"});
    if (!blobs["s3"]) r.Fail("blobs", "needs s3");
    config.s3 = r.S3(blobs["s3"], "blobs.s3");
  }
  if (root["domain"]) {
    config.domain = r.String(root["domain"], "domain");
    if (!access::IsValidDomain(config.domain)) r.Fail("domain", "not a valid DNS domain");
  }
  if (root["token_ttl"]) {
    try {
      config.token_ttl_seconds = root["token_ttl"].as<int64_t>();
    } catch (const YAML::Exception&) {
      r.Fail("token_ttl", "must be a number of seconds");
    }
    if (config.token_ttl_seconds < 10 || config.token_ttl_seconds > 86400) {
      r.Fail("token_ttl", "must be between 10 and 86400 seconds");
    }
  }
  if (auto endpoints = root["endpoints"]) {
    if (!endpoints.IsSequence()) r.Fail("endpoints", "must be a list");
    for (size_t i = 0; i < endpoints.size(); ++i) {
      config.endpoints.push_back(r.Endpoint(endpoints[i], "endpoints[" + std::to_string(i) + "]"));
    }
  }
  if (auto health = root["health"]) {
    r.OnlyKeys(health, "health", {"listen"});
    if (!health["listen"]) r.Fail("health", "needs listen");
    r.Listen(health["listen"], "health.listen", config.health);
    config.health.role = ListenerRole::kHealth;
    config.health_enabled = true;
  }
  if (auto admin = root["admin"]) {
    r.OnlyKeys(admin, "admin", {"listen", "accounts"});
    if (!admin["listen"]) r.Fail("admin", "needs listen");
    r.Listen(admin["listen"], "admin.listen", config.admin);
    config.admin.role = ListenerRole::kAdmin;
    config.admin_enabled = true;
    if (auto accounts = admin["accounts"]) {
      if (!accounts.IsMap()) r.Fail("admin.accounts", "must map account ids to {token: ...}");
      for (const auto& kv : accounts) {
        std::string id = kv.first.as<std::string>();
        std::string key = "admin.accounts." + id;
        r.OnlyKeys(kv.second, key, {"token"});
        if (!kv.second["token"]) r.Fail(key, "needs token");
        std::string token = r.String(kv.second["token"], key + ".token");
        if (token.size() < 16) r.Fail(key + ".token", "must be at least 16 characters");
        config.admin_accounts.push_back({id, token});
      }
    }
  }
  return config;
}

}  // namespace kura::server
