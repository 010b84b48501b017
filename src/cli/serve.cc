#include "cli/serve.h"

#include <malloc.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

#include "access/world.h"
#include "admin/admin_api.h"
#include "admin/exposure_state.h"
#include "admin/instance_stores.h"
#include "admin/world_document.h"
#include "auth/htpasswd.h"
#include "auth/token.h"
#include "cli/stores.h"
#include "registry/registry.h"
#include "registry/upload_cleanup.h"
#include "server/health.h"
#include "server/http_server.h"
#include "server/instance_gateway.h"
#include "server/io_threads.h"
#include "server/plain_registry.h"
#include "store/fs_blob_store.h"
#include "store/sqlite_admin_store.h"
#include "store/sqlite_meta_store.h"

namespace kura::cli {
namespace {

namespace asio = boost::asio;

constexpr int64_t kUploadIdleSeconds = 24 * 3600;
// How often a node sharing its metadata with others looks for their changes to the World: a
// change takes effect everywhere within this (and a reload).
constexpr auto kWorldPollInterval = std::chrono::milliseconds(200);

// The accounts named in the configuration are always in the World (saved, so that every tool
// reading the saved World sees them).
void AddConfiguredAccounts(admin::ExposureState& exposure, const server::ServerConfig& config) {
  access::Status added = exposure.Change([&](access::World& world) {
    for (const auto& a : config.admin_accounts) {
      if (world.FindAccount(a.id)) continue;
      access::Status s = world.AddAccount({a.id, a.id});
      if (!s.ok()) return s;
    }
    return access::Status::Ok();
  });
  if (!added.ok()) throw std::runtime_error(added.message());
}

}  // namespace

int Serve(const server::ServerConfig& config) {
  // Upload buffers (1 MiB) always come from mmap and go back to the system when freed. glibc
  // would otherwise raise this threshold after the first such free and keep freed buffers in
  // every thread's heap: an idle server that once took a push held megabytes it no longer used.
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  // A client that goes away while a blob is sent makes sendfile(2) raise SIGPIPE: the write
  // must fail (EPIPE) and close that connection, never end the server.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    std::filesystem::create_directories(config.data_dir);
    std::unique_ptr<store::BlobStore> blob_store = OpenBlobStore(config);
    store::BlobStore& blobs = *blob_store;
    MetadataStores metadata = OpenMetadataStores(config);
    store::MetaStore& meta = *metadata.meta;
    store::AdminStore& admin_store = *metadata.admin;
    const bool shared_metadata = !config.postgres.empty();
    // The instances side: the exposure World.
    admin::ExposureState exposure(admin_store, config.domain);
    AddConfiguredAccounts(exposure, config);
    // A VPC listener names its network's owner (config.h); that account must exist.
    for (const server::ListenerConfig& endpoint : config.endpoints) {
      if (endpoint.role == server::ListenerRole::kVpc &&
          !exposure.Snapshot()->FindAccount(endpoint.network_account)) {
        throw std::runtime_error("the vpc endpoint listener on " + endpoint.host + ":" +
                                 std::to_string(endpoint.port) + " names network_account " +
                                 endpoint.network_account +
                                 ", which is not an account of this server (admin.accounts)");
      }
    }
    // Before any request: the stores hold nothing of an instance the World does not (what a
    // crash in the middle of a delete leaves), and nothing keyed by an instance name.
    admin::ReconcileResult reconciled =
        metadata.sqlite_meta ? admin::ReconcileInstanceStores(exposure, *metadata.sqlite_meta,
                                                              *metadata.sqlite_admin)
                             : admin::ReconcileInstanceStores(exposure, meta, admin_store);
    if (reconciled.migrated) {
      std::cerr << "kura: instance data re-keyed by incarnation (database of an earlier kura)\n";
    }
    if (reconciled.keys_purged > 0) {
      std::cerr << "kura: removed the data of " << reconciled.keys_purged
                << " deleted instance(s)\n";
    }
    // A node's own filesystem store: nothing else writes it and no request runs yet, so every
    // upload without a session is a leftover. A shared store: other nodes may be writing theirs.
    int stale = registry::RemoveOrphanUploads(meta, blobs, config.s3 ? kUploadIdleSeconds : 0);
    if (stale > 0) std::cerr << "kura: removed " << stale << " stale upload file(s)\n";

    std::optional<auth::HtpasswdFile> users;
    if (!config.htpasswd.empty()) users.emplace(config.htpasswd);

    registry::Registry registry(
        blobs, meta, registry::UploadLimits{config.max_uploads, config.max_uploads_per_instance});
    unsigned threads =
        config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
    server::IoThreads io_threads(threads);
    boost::asio::io_context& io = io_threads.control();

    // Credentials, tokens, the admin API.
    std::string token_key = admin_store.Secret("registry-token-hmac", auth::RandomSecret);
    std::optional<server::AuditLog> audit;
    if (!config.endpoints.empty()) audit.emplace(config.audit_log);
    std::optional<server::InstanceGateway> gateway;
    if (audit) {
      gateway.emplace(exposure, admin_store, registry, token_key, config.token_ttl_seconds, *audit);
      if (shared_metadata) gateway->CountLoginsAcrossNodes();
    }
    std::map<std::string, std::string> admin_tokens;
    for (const auto& a : config.admin_accounts) admin_tokens[a.token] = a.id;
    admin::AdminApi admin_api(exposure, admin_store, meta, admin_tokens);

    server::PlainRegistryHandler plain(registry, users ? &*users : nullptr, config.realm);
    std::vector<std::unique_ptr<server::HttpListener>> listeners;
    if (config.registry_enabled) {
      listeners.push_back(std::make_unique<server::HttpListener>(
          config.registry,
          [&plain](registry::Request& req, const server::Peer& peer) {
            return plain.Handle(req, peer);
          },
          config.access_log));
    }
    for (const server::ListenerConfig& endpoint : config.endpoints) {
      listeners.push_back(std::make_unique<server::HttpListener>(
          endpoint,
          [&gateway, &endpoint](registry::Request& req, const server::Peer& peer) {
            return gateway->Handle(req, peer, endpoint);
          },
          config.access_log));
    }
    if (config.admin_enabled) {
      listeners.push_back(std::make_unique<server::HttpListener>(
          config.admin,
          [&admin_api](registry::Request& req, const server::Peer&) {
            return admin_api.Handle(req);
          },
          config.access_log));
    }
    server::Health health(meta, blobs);
    if (config.health_enabled) {
      listeners.push_back(std::make_unique<server::HttpListener>(
          config.health,
          [&health](registry::Request& req, const server::Peer&)
              -> asio::awaitable<registry::Response> { co_return health.Handle(req); },
          config.access_log));
    }
    for (auto& l : listeners) l->Start(io_threads);

    // Upload sessions idle for a day expire, with their bytes.
    boost::asio::steady_timer expiry(io);
    std::function<void()> expire_uploads = [&] {
      registry::ExpireIdleUploads(meta, blobs, kUploadIdleSeconds);
      registry::RemoveOrphanUploads(meta, blobs, kUploadIdleSeconds);
      expiry.expires_after(std::chrono::minutes(10));
      expiry.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) expire_uploads();
      });
    };
    expire_uploads();

    // What other nodes sharing the stores changed in the World reaches this one within a poll.
    boost::asio::steady_timer world_poll(io);
    std::function<void()> poll_world = [&] {
      try {
        exposure.Refresh();
      } catch (const std::exception& e) {
        std::cerr << "kura: cannot reload the World: " << e.what() << "\n";
      }
      world_poll.expires_after(kWorldPollInterval);
      world_poll.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) poll_world();
      });
    };
    if (shared_metadata) poll_world();

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) {
      world_poll.cancel();
      expiry.cancel();
      io_threads.Stop();
    });

    std::cout << "kura " << KURA_VERSION << " (data in " << config.data_dir << ", " << threads
              << " threads)\n";
    if (config.registry_enabled) {
      const server::HttpListener& l = *listeners.front();
      const char* scheme = config.registry.tls_certificate.empty() ? "http" : "https";
      std::string host = l.config().host.find(':') != std::string::npos
                             ? "[" + l.config().host + "]"
                             : l.config().host;
      std::string where = host + ":" + std::to_string(l.port());
      std::cout << "  registry on " << scheme << "://" << where
                << (users ? " (htpasswd auth)" : " (no auth)") << "\n";
      if (users) {
        std::cout << "  log in:  docker login " << where << "   (or podman/skopeo login)\n";
      } else {
        std::cout << "  log in:  not needed (no auth); with auth: {htpasswd: FILE} in a --config, "
                     "docker login "
                  << where << "\n";
      }
      std::cout << "  push:    skopeo copy --dest-tls-verify=false oci:DIR:TAG docker://" << where
                << "/NAME:TAG\n"
                << "           docker tag IMAGE " << where << "/NAME:TAG && docker push " << where
                << "/NAME:TAG\n"
                << "  pull:    podman pull --tls-verify=false " << where << "/NAME:TAG"
                << std::endl;
    }

    for (const auto& l : listeners) {
      const server::ListenerConfig& c = l->config();
      if (c.role == server::ListenerRole::kRegistry) continue;
      const char* role = c.role == server::ListenerRole::kInternet ? "internet endpoints"
                         : c.role == server::ListenerRole::kVpc    ? "vpc endpoints"
                         : c.role == server::ListenerRole::kHealth ? "health probes"
                                                                   : "admin API";
      std::cout << "  " << role << " on " << c.host << ":" << l->port()
                << (c.netns.empty() ? "" : " in netns " + c.netns)
                << (c.network.empty() ? ""
                                      : " (network " + c.network_account + "/" + c.network + ")")
                << "\n";
    }
    std::cout << std::flush;

    io_threads.Run();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "kura serve: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace kura::cli
