#include "cli/serve.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <filesystem>
#include <iostream>
#include <thread>
#include <unordered_set>
#include <vector>

#include "auth/htpasswd.h"
#include "registry/registry.h"
#include "server/http_server.h"
#include "store/fs_blob_store.h"
#include "store/sqlite_meta_store.h"

namespace kura::cli {

int Serve(const server::ServerConfig& config) {
  try {
    std::filesystem::create_directories(config.data_dir);
    store::FsBlobStore blobs(config.data_dir);
    store::SqliteMetaStore meta(config.data_dir + "/kura.db");
    auto live = meta.ListUploadIds();
    std::unordered_set<std::string> live_ids(live.begin(), live.end());
    int stale = blobs.RemoveStaleUploads([&](const std::string& id) { return live_ids.count(id); });
    if (stale > 0) std::cerr << "kura: removed " << stale << " stale upload file(s)\n";

    std::optional<auth::HtpasswdFile> users;
    if (!config.htpasswd.empty()) users.emplace(config.htpasswd);

    registry::Registry registry(blobs, meta);
    unsigned threads = config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
    boost::asio::io_context io(static_cast<int>(threads));
    server::HttpServer http(config, registry, users ? &*users : nullptr);
    http.Start(io);

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });

    const char* scheme = config.tls_certificate.empty() ? "http" : "https";
    std::string host = config.listen_host.find(':') != std::string::npos
                           ? "[" + config.listen_host + "]"
                           : config.listen_host;
    std::string where = host + ":" + std::to_string(http.port());
    std::cout << "kura " << KURA_VERSION << " serving " << scheme << "://" << where
              << " (data in " << config.data_dir << ", " << threads << " threads"
              << (users ? ", htpasswd auth" : ", no auth") << ")\n";
    if (users) {
      std::cout << "  log in:  docker login " << where << "\n";
    }
    std::cout << "  push:    skopeo copy --dest-tls-verify=false oci:DIR:TAG docker://" << where
              << "/NAME:TAG\n"
              << "           docker tag IMAGE " << where << "/NAME:TAG && docker push " << where
              << "/NAME:TAG\n"
              << "  pull:    podman pull --tls-verify=false " << where << "/NAME:TAG"
              << std::endl;

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "kura serve: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace kura::cli
