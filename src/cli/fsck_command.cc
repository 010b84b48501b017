#include "cli/fsck_command.h"

#include <filesystem>
#include <iostream>
#include <set>

#include "access/world.h"
#include "admin/world_document.h"
#include "admin/world_rows.h"
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
  auto has_table = [&](const char* name) {
    store::Statement table(db.Connection(),
                           "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
    table.Bind(name);
    return table.Step();
  };
  if (has_table("world_state")) {
    store::Statement state(db.Connection(), "SELECT 1 FROM world_state");
    if (state.Step()) {
      std::vector<store::WorldRow> rows;
      store::Statement s(db.Connection(),
                         "SELECT key, body FROM world_rows WHERE kind = 'instance' AND "
                         "body IS NOT NULL");
      while (s.Step()) rows.push_back({"instance", s.Text(0), s.Text(1)});
      for (std::string& key : admin::IncarnationsOfRows(rows)) keys.insert(std::move(key));
      return keys;
    }
  }
  if (!has_table("exposure_world")) return keys;  // no instance was ever saved
  // A World saved by an earlier kura, as one document.
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
  store::WorldRows saved = admin.LoadWorldRows();
  if (saved.legacy_document) {
    access::World world = admin::WorldFromDocument(*saved.legacy_document, "kura.test");
    for (const auto& [name, instance] : world.instances()) keys.insert(instance.incarnation);
  }
  for (std::string& key : admin::IncarnationsOfRows(saved.rows)) keys.insert(std::move(key));
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
