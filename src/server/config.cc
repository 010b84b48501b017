#include "server/config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <set>

namespace kura::server {

void SetListen(ServerConfig& config, const std::string& address) {
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
  config.listen_host = host.empty() ? "0.0.0.0" : host;
  config.listen_port = static_cast<uint16_t>(value);
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
  if (!root.IsMap()) throw ConfigError(path + ": the top level must be a mapping");
  static const std::set<std::string> kKnown = {"listen", "data", "threads", "tls", "auth", "log"};
  auto get = [&](const YAML::Node& node, const std::string& key) -> std::string {
    try {
      return node.as<std::string>();
    } catch (const YAML::Exception&) {
      throw ConfigError(path + ": " + key + " must be a string");
    }
  };
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    if (!kKnown.count(key)) throw ConfigError(path + ": unknown key '" + key + "'");
  }
  try {
    if (root["listen"]) SetListen(config, get(root["listen"], "listen"));
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what());
  }
  if (root["data"]) config.data_dir = get(root["data"], "data");
  if (root["threads"]) {
    try {
      config.threads = root["threads"].as<unsigned>();
    } catch (const YAML::Exception&) {
      throw ConfigError(path + ": threads must be a non-negative integer");
    }
  }
  if (auto tls = root["tls"]) {
    if (!tls["certificate"] || !tls["key"]) {
      throw ConfigError(path + ": tls needs both certificate and key");
    }
    config.tls_certificate = get(tls["certificate"], "tls.certificate");
    config.tls_key = get(tls["key"], "tls.key");
  }
  if (auto auth = root["auth"]) {
    if (!auth["htpasswd"]) throw ConfigError(path + ": auth needs htpasswd");
    config.htpasswd = get(auth["htpasswd"], "auth.htpasswd");
    if (auth["realm"]) config.realm = get(auth["realm"], "auth.realm");
  }
  if (auto log = root["log"]) {
    if (log["access"]) config.access_log = log["access"].as<bool>(false);
  }
  return config;
}

}  // namespace kura::server
