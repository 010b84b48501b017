#include "cli/fsck_command.h"

#include <filesystem>
#include <iostream>
#include <set>

#include "access/world.h"
#include "admin/world_document.h"
#include "cli/stores.h"
#include "registry/consistency_check.h"
#include "registry/metadata_rows.h"
#include "server/config.h"
#include "store/meta_store.h"
#include "store/pg_admin_store.h"
#include "store/pg_db.h"
#include "store/sqlite_db.h"

namespace kura::cli {

namespace {

struct FsckOptions {
  std::string data = "./var";
  std::string config;  // the server's configuration file, for the blob store it names
  bool no_hash = false;
};

// The keys under which live instances (their incarnations), and the plain registry, keep their
// rows: read from the saved World without opening the admin store, which would create its tables
// (fsck writes nothing). The domain only names endpoints, which fsck does not look at.
std::set<std::string> LiveInstanceKeys(const std::string& db_path) {
  std::set<std::string> keys{std::string(store::kPlainRegistryKey)};
  store::SqliteDatabase db(db_path, "");
  store::Statement table(db.Connection(),
                         "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                         "name = 'exposure_world'");
  if (!table.Step()) return keys;  // no instance was ever saved
  store::Statement saved(db.Connection(), "SELECT document FROM exposure_world WHERE id = 1");
  if (saved.Step()) {
    access::World world = admin::WorldFromDocument(saved.Text(0), "kura.test");
    for (const auto& [name, instance] : world.instances()) keys.insert(instance.incarnation);
  }
  return keys;
}

// The same keys, from the World saved in a PostgreSQL database.
std::set<std::string> LiveInstanceKeys(store::AdminStore& admin) {
  std::set<std::string> keys{std::string(store::kPlainRegistryKey)};
  if (std::optional<std::string> saved = admin.LoadWorld()) {
    access::World world = admin::WorldFromDocument(*saved, "kura.test");
    for (const auto& [name, instance] : world.instances()) keys.insert(instance.incarnation);
  }
  return keys;
}

int RunFsck(const FsckOptions& options) {
  try {
    server::ServerConfig config;
    if (!options.config.empty()) config = server::LoadConfig(options.config);
    config.data_dir = options.data;
    std::unique_ptr<registry::MetadataRows> rows;
    std::set<std::string> live;
    if (!config.postgres.empty()) {
      std::shared_ptr<store::PgDatabase> db = store::PgDatabase::Open(config.postgres);
      store::PgAdminStore admin(db);
      live = LiveInstanceKeys(admin);
      rows = registry::PostgresRows(db);
    } else {
      std::string db = options.data + "/kura.db";
      if (!std::filesystem::exists(db)) {
        std::cerr << "kura fsck: no registry data in " << options.data << " (no kura.db)\n";
        return 2;
      }
      live = LiveInstanceKeys(db);
      rows = registry::SqliteRows(db);
    }
    std::unique_ptr<store::BlobStore> blob_store = OpenBlobStore(config);
    registry::ConsistencyOptions check;
    check.hash_blobs = !options.no_hash;
    registry::ConsistencyReport report =
        registry::CheckConsistency(*rows, *blob_store, live, check);
    for (const std::string& line : report.problems) std::cout << line << "\n";
    std::cout << report.tags << " tags, " << report.manifests << " manifests, " << report.blob_links
              << " blob links (" << report.blobs_hashed << " blobs hashed), " << report.uploads
              << " upload sessions: "
              << (report.ok() ? "no problems"
                              : std::to_string(report.problems.size()) + " problem(s)")
              << "\n";
    return report.ok() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "kura fsck: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace

std::shared_ptr<void> AddFsckCommand(CLI::App& app) {
  auto options = std::make_shared<FsckOptions>();
  CLI::App* fsck =
      app.add_subcommand("fsck", "Check that tags, manifests, blobs and uploads hold together");
  fsck->add_option("--data", options->data, "Data directory (default ./var)");
  fsck->add_option("--config", options->config,
                   "The server's configuration file (for metadata in PostgreSQL, blobs in S3)");
  fsck->add_flag("--no-hash", options->no_hash, "Do not read blobs to check their digests");
  fsck->callback([options] { std::exit(RunFsck(*options)); });
  return options;
}

}  // namespace kura::cli
