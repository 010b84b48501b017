// The S3 gateway that tests run against, named by the environment variable KURA_TEST_S3: the
// path of a file of `export NAME=value` lines, as scripts/ceph-up.sh writes (DIR/s3.env).
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "store/s3_client.h"

namespace kura::store {

// The `export NAME=value` lines of the KURA_TEST_S3 file.
inline std::map<std::string, std::string> ReadEnvFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("KURA_TEST_S3=" + path + ": cannot read it");
  std::map<std::string, std::string> vars;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("export ")) line.erase(0, 7);
    size_t eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && (value[0] == '"' || value[0] == '\'') && value.back() == value[0]) {
      value = value.substr(1, value.size() - 2);
    }
    vars[line.substr(0, eq)] = value;
  }
  return vars;
}

struct Gateway {
  S3Config config;
  std::string quota_access_key, quota_secret_key;
};

inline std::optional<Gateway> GatewayFromEnvironment() {
  const char* path = std::getenv("KURA_TEST_S3");
  if (path == nullptr || *path == '\0') return std::nullopt;
  auto vars = ReadEnvFile(path);
  auto get = [&](const std::string& name) { return vars.count(name) ? vars[name] : ""; };
  Gateway g;
  g.config.endpoint = get("AWS_ENDPOINT_URL");
  g.config.access_key = get("AWS_ACCESS_KEY_ID");
  g.config.secret_key = get("AWS_SECRET_ACCESS_KEY");
  g.config.region = get("AWS_REGION").empty() ? get("AWS_DEFAULT_REGION") : get("AWS_REGION");
  g.config.bucket = get("KURA_TEST_S3_BUCKET").empty() ? "kura-tests" : get("KURA_TEST_S3_BUCKET");
  g.quota_access_key = get("KURA_S3_QUOTA_ACCESS_KEY_ID");
  g.quota_secret_key = get("KURA_S3_QUOTA_SECRET_ACCESS_KEY");
  return g;
}

}  // namespace kura::store
