// `kura db migrate --database URL`: brings the schema of a PostgreSQL database up to this kura's
// (store/pg_schema.h), applying the pending migrations in one transaction; running it again
// does nothing. Prints the version reached; exit status 0, or 1 with one line saying why (the
// database cannot be reached, a migration failed, the schema is newer than this kura).
//
// URL is a libpq connection URL or key=value string, e.g.
// postgresql://kura@db.internal:5432/kura?sslmode=require; it may come from the environment
// variable KURA_DATABASE instead (keeps a password off the command line).
#pragma once

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <memory>
#include <string>

namespace kura::cli {

// Adds `db` (and its verb `migrate`) to app. Returns its state, which must live as long as app.
std::shared_ptr<void> AddDbCommand(CLI::App& app);

// What `kura db migrate` does: returns its exit status.
int MigrateDatabase(const std::string& url, std::ostream& out, std::ostream& err);

}  // namespace kura::cli
