#include "cli/migrate_command.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>

#include "cli/migrate_blobs.h"
#include "cli/migrate_metadata.h"
#include "cli/stores.h"
#include "server/config.h"
#include "store/pg_db.h"
#include "store/s3_blob_store.h"

namespace kura::cli {
namespace {

// A refusal before anything was written: one line, exit status 1.
class MigrationRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An error message on one line (a PostgreSQL error may carry a DETAIL line).
std::string OneLine(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  for (size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at)) {
    text.replace(at, 1, "; ");
  }
  return text;
}

std::string Seconds(std::chrono::steady_clock::duration d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(d).count());
  return text;
}

std::string Rate(uint64_t bytes, std::chrono::steady_clock::duration d) {
  const double seconds = std::chrono::duration<double>(d).count();
  if (bytes == 0 || seconds <= 0) return "";
  return ", " + HumanBytes(static_cast<uint64_t>(static_cast<double>(bytes) / seconds)) + "/s";
}

server::ServerConfig LoadClusterConfig(const std::string& path) {
  server::ServerConfig config;
  try {
    config = server::LoadConfig(path);
  } catch (const server::ConfigError& e) {
    throw MigrationRefused(e.what());
  }
  if (config.postgres.empty()) {
    throw MigrationRefused(path +
                           " names no PostgreSQL database (metadata: {postgres: URL}): a "
                           "cluster keeps its metadata there, and kura migrate copies it there");
  }
  if (!config.s3) {
    throw MigrationRefused(path +
                           " names no S3 store (blobs: {s3: {endpoint: ..., bucket: ...}}): a "
                           "cluster keeps its blobs there, and kura migrate copies them there");
  }
  return config;
}

void PrintTables(const MetadataCopyReport& report, bool dry_run, std::ostream& out) {
  const char* copied = dry_run ? "to copy" : "copied";
  for (const TableCopy& t : report.tables) {
    char name[24];
    std::snprintf(name, sizeof name, "%-18s", t.table.c_str());
    out << "  " << name << " " << t.copied << " " << copied << ", " << t.present
        << " already there";
    if (t.skipped > 0) out << ", " << t.skipped << " left out (" << t.why_skipped << ")";
    out << "\n";
  }
  out << "  exposure World     " << report.world << "\n";
  for (const std::string& note : report.notes) out << "  note: " << note << "\n";
}

int Run(const MigrateOptions& options, std::ostream& out) {
  const auto start = std::chrono::steady_clock::now();
  server::ServerConfig config = LoadClusterConfig(options.config);

  std::error_code ec;
  if (!std::filesystem::is_directory(options.data, ec)) {
    throw MigrationRefused(options.data + " is no directory");
  }
  const std::string db_path = options.data + "/kura.db";
  if (!std::filesystem::exists(db_path, ec)) {
    throw MigrationRefused(options.data +
                           " holds no kura.db: it is not the data directory of an embedded "
                           "kura (kura serve --data DIR)");
  }
  std::unique_ptr<MigrationSource> opened;
  bool keyed_by_name = false;
  try {
    opened = std::make_unique<MigrationSource>(db_path);
    keyed_by_name = opened->KeyedByInstanceName();
  } catch (const store::StoreError& e) {
    throw MigrationRefused("cannot read " + db_path + ": " + e.what());
  }
  MigrationSource& source = *opened;
  if (keyed_by_name) {
    throw MigrationRefused(db_path +
                           " was written by an earlier kura (its rows are keyed by instance "
                           "name): start `kura serve --data " +
                           options.data +
                           "` once, which re-keys it, stop it, then run kura migrate again");
  }

  // One connection, and time for statements over every row (a node's default is 15 s).
  store::PgOptions pg;
  pg.max_connections = 1;
  pg.statement_timeout = std::chrono::minutes(30);
  std::shared_ptr<store::PgDatabase> target = store::PgDatabase::Open(config.postgres, pg);
  CheckWorldsAgree(source, *target, config.domain);

  // A dry run must not even create the bucket: it only looks, through a client of its own.
  const store::S3Config s3 = S3ConfigOf(config);
  std::unique_ptr<store::S3BlobStore> blob_store;
  std::unique_ptr<store::S3Client> probe;
  if (options.dry_run) {
    probe = std::make_unique<store::S3Client>(s3);
  } else {
    blob_store = std::make_unique<store::S3BlobStore>(s3);
  }
  store::S3Client& client = blob_store ? blob_store->client() : *probe;

  out << "kura migrate: " << options.data << " (SQLite and files) to PostgreSQL and S3 bucket "
      << s3.bucket << (s3.prefix.empty() ? "" : " under " + s3.prefix)
      << (options.dry_run ? " (dry run: nothing is written)" : "") << "\n";

  // 1. Blobs, so that no row copied next names a blob the target lacks.
  BlobInventory inventory = ListBlobFiles(options.data);
  out << "blobs: " << inventory.blobs.size() << " files, " << HumanBytes(inventory.bytes)
      << std::endl;
  for (const std::string& path : inventory.ignored) {
    out << "  ignored " << path << ": not a blob file of kura's (left where it is)\n";
  }
  for (const std::string& path : inventory.unverifiable) {
    out << "  refused " << path << ": this kura verifies sha256 blobs only: not copied\n";
  }
  const auto blobs_start = std::chrono::steady_clock::now();
  BlobCopyReport blobs;
  try {
    blobs = CopyBlobs(inventory, client, blob_store.get(), {options.dry_run, options.jobs}, out);
  } catch (const std::exception& e) {
    throw std::runtime_error(OneLine(e.what()) +
                             " (no metadata was copied; blobs copied so far stay: run kura "
                             "migrate again)");
  }
  const auto blobs_time = std::chrono::steady_clock::now() - blobs_start;
  const size_t refused = blobs.refused.size() + inventory.unverifiable.size();
  out << "blobs: " << blobs.copied << (options.dry_run ? " to copy (verified)" : " copied") << " ("
      << HumanBytes(blobs.copied_bytes) << Rate(blobs.copied_bytes, blobs_time) << "), "
      << blobs.present << " already there (" << HumanBytes(blobs.present_bytes) << "), " << refused
      << " refused, in " << Seconds(blobs_time) << "\n";
  if (blobs.replaced > 0) {
    out << "  of those copied, " << blobs.replaced
        << " replaced an object of another size at their key (a damaged copy)\n";
  }

  // 2. Metadata, in one transaction.
  MetadataCopyOptions copy;
  copy.dry_run = options.dry_run;
  copy.now = static_cast<int64_t>(std::time(nullptr));
  copy.domain = config.domain;
  copy.blob_in_target = [&](const std::string& digest) {
    if (blobs.in_target.contains(digest)) return true;
    std::optional<core::Digest> parsed = core::ParseDigest(digest);
    return parsed && client.HeadObject(store::S3BlobStore::BlobKey(*parsed)).has_value();
  };
  const auto metadata_start = std::chrono::steady_clock::now();
  MetadataCopyReport metadata = CopyMetadata(source, *target, copy);
  out << "metadata, in one transaction" << (options.dry_run ? " (rolled back: dry run)" : "")
      << ", in " << Seconds(std::chrono::steady_clock::now() - metadata_start) << ":\n";
  PrintTables(metadata, options.dry_run, out);
  if (!metadata.missing_blobs.empty()) {
    out << "  blob links left out: the target lacks " << metadata.missing_blobs.size()
        << " blob(s) that repositories name:";
    for (const std::string& d : metadata.missing_blobs) out << " " << d;
    out << "\n";
  }
  if (metadata.upload_sessions > 0) {
    out << "upload sessions: " << metadata.upload_sessions
        << " in progress, not migrated: their clients start those uploads again\n";
  }
  const bool complete = refused == 0 && metadata.missing_blobs.empty();
  out << "kura migrate: " << (options.dry_run ? "dry run done" : "done") << " in "
      << Seconds(std::chrono::steady_clock::now() - start)
      << (complete ? "" : "; some blobs were not migrated (see above)") << std::endl;
  return complete ? 0 : 1;
}

}  // namespace

int Migrate(const MigrateOptions& options, std::ostream& out, std::ostream& err) {
  try {
    return Run(options, out);
  } catch (const std::exception& e) {
    out.flush();
    err << "kura migrate: " << OneLine(e.what()) << "\n";
    return 1;
  }
}

std::shared_ptr<void> AddMigrateCommand(CLI::App& app) {
  auto options = std::make_shared<MigrateOptions>();
  CLI::App* migrate = app.add_subcommand(
      "migrate", "Move an embedded installation (SQLite, files) to PostgreSQL and S3");
  migrate->add_option("--data", options->data, "The installation's data directory")->required();
  migrate
      ->add_option("--config", options->config,
                   "The cluster's configuration (metadata: {postgres: URL}, blobs: {s3: ...})")
      ->required();
  migrate->add_flag("--dry-run", options->dry_run, "Read and verify everything, write nothing");
  migrate->add_option("--jobs", options->jobs, "Blobs copied at once (default 4)")
      ->check(CLI::Range(1u, 64u));
  migrate->callback([options] { std::exit(Migrate(*options, std::cout, std::cerr)); });
  return options;
}

}  // namespace kura::cli
