#include "cli/db_command.h"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "store/pg_db.h"
#include "store/pg_schema.h"

namespace kura::cli {

int MigrateDatabase(const std::string& url, std::ostream& out, std::ostream& err) {
  try {
    // A migration may build an index over every row: give it time (a node's requests get
    // statement_timeout's default).
    store::PgOptions options;
    options.statement_timeout = std::chrono::minutes(30);
    std::shared_ptr<store::PgDatabase> db = store::PgDatabase::Connect(url, options);
    store::pg_schema::MigrationResult r = store::pg_schema::Migrate(*db);
    if (r.from == r.to) {
      out << "kura db migrate: the schema is at version " << r.to << " already, nothing to do\n";
    } else {
      out << "kura db migrate: the schema is at version " << r.to << " (was " << r.from << ", "
          << (r.to - r.from) << " migration(s) applied)\n";
    }
    return 0;
  } catch (const std::exception& e) {
    err << "kura db migrate: " << e.what() << "\n";
    return 1;
  }
}

std::shared_ptr<void> AddDbCommand(CLI::App& app) {
  auto url = std::make_shared<std::string>();
  CLI::App* db = app.add_subcommand("db", "Manage the PostgreSQL database of a cluster");
  db->require_subcommand(1);
  CLI::App* migrate =
      db->add_subcommand("migrate", "Apply the pending schema migrations to the database");
  migrate
      ->add_option("--database", *url,
                   "libpq URL of the database, e.g. postgresql://kura@HOST:5432/kura "
                   "(KURA_DATABASE)")
      ->envname("KURA_DATABASE")
      ->required();
  migrate->callback([url] { std::exit(MigrateDatabase(*url, std::cout, std::cerr)); });
  return url;
}

}  // namespace kura::cli
