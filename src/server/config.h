// The `kura serve` configuration: a YAML file, overridden by command-line flags.
//
//   listen: 127.0.0.1:5000       # address:port ([::1]:5000 for IPv6)
//   data: ./var                  # blobs under data/blobs, metadata in data/kura.db
//   threads: 0                   # 0: one per core
//   tls: {certificate: FILE, key: FILE}
//   auth: {htpasswd: FILE, realm: kura}
//   log: {access: false}
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace kura::server {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServerConfig {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 5000;
  std::string data_dir = "./var";
  unsigned threads = 0;
  std::string tls_certificate;
  std::string tls_key;
  std::string htpasswd;
  std::string realm = "kura";
  bool access_log = false;
};

// Reads the YAML file at `path`. Throws ConfigError naming the file, the key and the reason.
ServerConfig LoadConfig(const std::string& path);

// Sets host and port from "host:port", "[v6]:port" or ":port". Throws ConfigError if malformed.
void SetListen(ServerConfig& config, const std::string& address);

}  // namespace kura::server
