// `kura migrate --data DIR --config CLUSTER.yaml [--dry-run] [--jobs N]`: moves an embedded
// installation (SQLite in DIR/kura.db, blob files under DIR/blobs) to the PostgreSQL database
// and the S3 store that CLUSTER.yaml names (metadata: {postgres: URL}, blobs: {s3: {...}}).
//
// In this order, so that no row of the target ever names a blob the target lacks:
//   1. checks: the configuration names both stores, DIR holds a kura.db (opened read-only) that
//      is keyed by incarnation (else: start `kura serve` once on it), the PostgreSQL schema is
//      current (else: `kura db migrate`), the target holds no other exposure World;
//   2. blobs (migrate_blobs.h): every blob file verified by SHA-256 as it is read and copied to
//      the key S3BlobStore uses; one the target holds with the same size is skipped;
//   3. metadata (migrate_metadata.h): every row, in one transaction; rows the target has are
//      kept. Upload sessions in progress are not migrated.
// Running it again copies only what is missing. With --dry-run everything is read and verified
// and nothing is written (the metadata transaction is rolled back).
//
// Output: progress, lines for what was refused, and a summary (blobs copied / already there /
// refused, bytes, rows per table). Exit status 0 when everything was copied; 1 with one line on
// stderr when the migration is refused or fails, and 1 after the summary when a blob file was
// refused (it does not hash to its name, or cannot be read; its repository_blobs rows are left
// out). The source is never modified.
#pragma once

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <memory>
#include <string>

namespace kura::cli {

struct MigrateOptions {
  std::string data;
  std::string config;
  bool dry_run = false;
  unsigned jobs = 4;  // blobs copied at once
};

// Adds `migrate` to app. Returns its state, which must live as long as app.
std::shared_ptr<void> AddMigrateCommand(CLI::App& app);

// What `kura migrate` does: returns its exit status.
int Migrate(const MigrateOptions& options, std::ostream& out, std::ostream& err);

}  // namespace kura::cli
