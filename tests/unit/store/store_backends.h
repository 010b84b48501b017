// The databases the store conformance suites (meta_store_test.cc, admin_store_test.cc) run on:
// each test gets a database of its own, created for it and removed after it.
//
// PostgreSQL: the tests connect to the database named by the environment variable
// KURA_TEST_POSTGRES (a libpq URL, e.g. postgresql://postgres@127.0.0.1:5433/kura, as printed by
// scripts/pg-up.sh); each test works in a schema of its own (CREATE SCHEMA, then DROP SCHEMA ...
// CASCADE), named on its connections by search_path and application_name. Without the variable
// the PostgreSQL cases are skipped, saying how to set it.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "store/pg_admin_store.h"
#include "store/pg_db.h"
#include "store/pg_meta_store.h"
#include "store/sqlite_admin_store.h"
#include "store/sqlite_meta_store.h"
#include "test_paths.h"

namespace kura::store {

class SqliteTestDatabase {
 public:
  static constexpr const char* kName = "Sqlite";
  static std::string SkipReason() { return {}; }

  SqliteTestDatabase() : dir_(kura::testing::ScratchPath("store")) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~SqliteTestDatabase() { std::filesystem::remove_all(dir_); }

  // A new store on the test's database, as another process (or node) would open it.
  std::unique_ptr<MetaStore> OpenMeta() { return std::make_unique<SqliteMetaStore>(path()); }
  std::unique_ptr<AdminStore> OpenAdmin() { return std::make_unique<SqliteAdminStore>(path()); }
  std::string path() const { return (dir_ / "kura.db").string(); }

 private:
  std::filesystem::path dir_;
};

// The URL of the PostgreSQL database to test on, or empty.
inline std::string TestPostgresUrl() {
  const char* url = std::getenv("KURA_TEST_POSTGRES");
  return url ? url : "";
}

inline constexpr const char* kNoTestPostgres =
    "KURA_TEST_POSTGRES is not set, so the PostgreSQL cases are skipped. Set it to a libpq URL of "
    "a database the tests may create schemas in, e.g. start one with "
    "`scripts/pg-up.sh /tmp/kura-pg 5433` and run with "
    "KURA_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5433/kura";

// `url` with the libpq parameters `params` ("key=value" pairs) added, in URL or key=value form.
inline std::string WithConnectionParameters(const std::string& url,
                                            const std::vector<std::string>& params) {
  const bool uri = url.starts_with("postgresql://") || url.starts_with("postgres://");
  std::string out = url;
  for (const std::string& p : params) {
    if (uri) {
      std::string encoded;
      const size_t eq = p.find('=');
      encoded = p.substr(0, eq + 1);
      for (char ch : p.substr(eq + 1)) {
        if (ch == '=' || ch == ' ' || ch == '&' || ch == '%') {
          static constexpr char kHex[] = "0123456789ABCDEF";
          encoded += '%';
          encoded += kHex[static_cast<unsigned char>(ch) >> 4];
          encoded += kHex[ch & 15];
        } else {
          encoded += ch;
        }
      }
      out += (out.find('?') == std::string::npos ? "?" : "&") + encoded;
    } else {
      const size_t eq = p.find('=');
      out += " " + p.substr(0, eq) + "='" + p.substr(eq + 1) + "'";
    }
  }
  return out;
}

class PgTestDatabase {
 public:
  static constexpr const char* kName = "Postgres";
  static std::string SkipReason() { return TestPostgresUrl().empty() ? kNoTestPostgres : ""; }

  // A fresh schema, migrated to the latest version.
  PgTestDatabase() : PgTestDatabase(true) {}
  // A fresh schema, migrated only when `migrate`.
  explicit PgTestDatabase(bool migrate) : base_url_(TestPostgresUrl()) {
    std::random_device random;
    schema_ = "kura_test_" + std::to_string(random()) + std::to_string(random());
    url_ = WithConnectionParameters(
        base_url_, {"options=-csearch_path=" + schema_, "application_name=" + schema_});
    Control().Exec(("CREATE SCHEMA " + schema_).c_str());
    if (migrate) {
      PgOptions options;
      options.apply_migrations = true;
      PgDatabase::Open(url_, options);
    }
  }
  ~PgTestDatabase() {
    try {
      Control().Exec(("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE").c_str());
    } catch (const StoreError& e) {
      ADD_FAILURE() << "cannot drop test schema " << schema_ << ": " << e.what();
    }
  }

  // A new pool on the test's schema, as another process (or node) would open it.
  std::shared_ptr<PgDatabase> OpenDatabase(PgOptions options = {}) {
    return PgDatabase::Open(url_, options);
  }
  std::unique_ptr<MetaStore> OpenMeta() { return std::make_unique<PgMetaStore>(OpenDatabase()); }
  std::unique_ptr<AdminStore> OpenAdmin() { return std::make_unique<PgAdminStore>(OpenDatabase()); }

  // A connection of the test's own, outside every store's pool, to the base database.
  PgConnection& Control() {
    if (!control_) control_ = std::make_unique<PgConnection>(base_url_, PgOptions{});
    return *control_;
  }
  // Terminates every server process that serves a connection of this test's stores; returns
  // how many.
  int TerminateStoreConnections() {
    PgResult r = PgQuery(Control(),
                         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = $1 AND pid <> pg_backend_pid()")
                     .Bind(schema_)
                     .Run();
    return r.rows();
  }

  const std::string& url() const { return url_; }
  const std::string& schema() const { return schema_; }

 private:
  std::string base_url_;
  std::string schema_;
  std::string url_;
  std::unique_ptr<PgConnection> control_;
};

// Names the typed tests' instantiations by backend: MetaStoreTest/Sqlite.Test,
// MetaStoreTest/Postgres.Test.
struct BackendName {
  template <class T>
  static std::string GetName(int) {
    return T::kName;
  }
};

using StoreBackends = ::testing::Types<SqliteTestDatabase, PgTestDatabase>;

}  // namespace kura::store
