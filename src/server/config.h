// The `kura serve` configuration: a YAML file, overridden by command-line flags.
//
//   listen: 127.0.0.1:5000       # the plain registry (no instances); "" for none
//   data: ./var                  # blobs under data/blobs, metadata in data/kura.db
//   threads: 0                   # 0: one per core
//   tls: {certificate: FILE, key: FILE}
//   proxy_protocol: [127.0.0.1/32]   # the registry listener's trusted PROXY v1/v2 senders
//   auth: {htpasswd: FILE, realm: kura}
//   log: {access: false, audit: ""}   # audit: file for admission decisions ("" = stderr)
//   limits: {uploads: 128, uploads_per_instance: 32}   # uploads received at once
//
//   # Several nodes sharing their state (scale-out); without these, SQLite and files under data:
//   metadata: {postgres: "postgresql://kura@db.internal/kura"}   # libpq URL or key=value string
//   blobs:
//     s3: {endpoint: "http://127.0.0.1:7480", bucket: kura, prefix: "", region: us-east-1,
//          access_key: KEY, secret_key: SECRET}   # keys default to AWS_ACCESS_KEY_ID and
//                                                 # AWS_SECRET_ACCESS_KEY (and AWS_REGION,
//                                                 # AWS_ENDPOINT_URL); endpoint and bucket are
//                                                 # required
//
//   # Instances (tenant registries), each reached through endpoint listeners:
//   domain: kura.test            # hostnames <instance>-registry[-vpc].<region>.<domain>
//   token_ttl: 300               # seconds a registry token lives
//   endpoints:
//     - listen: 198.51.100.5:80
//       endpoint: internet       # internet | vpc
//       network: vpc-a           # vpc: the network this listener sits in (arrival network)
//       network_account: A       # vpc, required: the account owning `network`, and the networks
//                                # a PROXY relay's TLV names (one listener per account's relay)
//       netns: lab-inet          # open the socket inside /run/netns/<netns>
//       proxy_protocol: [127.0.0.1/32]   # trusted PROXY v1/v2 senders (header required)
//       tls: {certificate: FILE, key: FILE}
//   health: {listen: 127.0.0.1:5002}   # /healthz and /readyz for load balancers (health.h)
//   admin:
//     listen: 127.0.0.1:5001
//     accounts: {A: {token: SECRET}, B: {token: SECRET}}
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/cidr.h"

namespace kura::server {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a listener serves.
enum class ListenerRole {
  kRegistry,  // the plain single registry (no instance), htpasswd auth
  kInternet,  // the Internet endpoints of all instances
  kVpc,       // the VPC endpoints of all instances, reached through `network`
  kAdmin,     // the admin REST API
  kHealth,    // liveness and readiness probes (health.h)
};

// The most I/O threads a server runs (0 in the configuration means one per core).
inline constexpr unsigned kMaxThreads = 256;

struct ListenerConfig {
  ListenerRole role = ListenerRole::kRegistry;
  std::string host = "127.0.0.1";
  uint16_t port = 5000;
  std::string network;                    // kVpc: the arrival network, an id of network_account
  std::string network_account;            // kVpc: the owner of `network` and of PROXY TLV ids
  std::string netns;                      // empty: the server's own namespace
  std::vector<core::Cidr> proxy_senders;  // PROXY protocol required from these sources
  std::string tls_certificate;
  std::string tls_key;
};

// Where blobs go when not under data/blobs: an S3-compatible object store.
struct S3Settings {
  std::string endpoint;  // http(s)://host[:port]
  std::string bucket;
  std::string prefix;  // every key starts with it ("" for none, else it ends with '/')
  std::string region;
  std::string access_key;
  std::string secret_key;
};

struct AdminAccount {
  std::string id;
  std::string token;
};

struct ServerConfig {
  ListenerConfig registry;  // role kRegistry; port 0 with host "" disables it
  bool registry_enabled = true;
  std::string data_dir = "./var";
  unsigned threads = 0;
  std::string htpasswd;
  std::string realm = "kura";
  bool access_log = false;
  std::string audit_log;                 // empty: stderr
  size_t max_uploads = 128;              // received at once by this server
  size_t max_uploads_per_instance = 32;  // of them, for one instance
  std::string postgres;                  // metadata in PostgreSQL when set, else SQLite
  std::optional<S3Settings> s3;          // blobs in S3 when set, else under data_dir

  std::string domain = "kura.test";
  int64_t token_ttl_seconds = 300;
  std::vector<ListenerConfig> endpoints;
  std::vector<AdminAccount> admin_accounts;
  ListenerConfig admin;  // role kAdmin
  bool admin_enabled = false;
  ListenerConfig health;  // role kHealth
  bool health_enabled = false;
};

// Reads the YAML file at `path`. Throws ConfigError naming the file, the key and the reason.
ServerConfig LoadConfig(const std::string& path);

// Sets host and port from "host:port", "[v6]:port" or ":port". Throws ConfigError if malformed.
void SetListen(ListenerConfig& listener, const std::string& address);

}  // namespace kura::server
