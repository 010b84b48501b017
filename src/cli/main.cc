// The `kura` command.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/admin_client.h"
#include "cli/admin_commands.h"
#include "cli/db_command.h"
#include "cli/fsck_command.h"
#include "cli/lab_command.h"
#include "cli/migrate_command.h"
#include "cli/scope_command.h"
#include "cli/serve.h"
#include "server/config.h"

int main(int argc, char** argv) {
  CLI::App app{"kura: a self-hosted OCI container registry"};
  app.set_version_flag("--version", std::string("kura ") + KURA_VERSION);
  app.require_subcommand(1);

  std::string config_file, listen, data;
  unsigned threads = 0;
  CLI::App* serve = app.add_subcommand("serve", "Serve the registry API");
  serve->add_option("--config", config_file, "YAML configuration file")->check(CLI::ExistingFile);
  serve->add_option("--listen", listen, "Address to listen on, HOST:PORT (default 127.0.0.1:5000)");
  serve->add_option("--data", data, "Data directory (default ./var)");
  serve->add_option("--threads", threads, "I/O threads (default: one per core)")
      ->check(CLI::Range(1u, kura::server::kMaxThreads));

  kura::cli::AdminOptions admin;
  app.add_option("--server", admin.server, "Admin API URL (KURA_SERVER)")
      ->envname("KURA_SERVER")
      ->default_str("http://127.0.0.1:5001");
  admin.server = "http://127.0.0.1:5001";
  app.add_option("--token", admin.token, "Admin token of your account (KURA_TOKEN)")
      ->envname("KURA_TOKEN");
  app.add_option("--output", admin.output, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.fallthrough();
  auto verbs = kura::cli::AddAdminCommands(app, admin);
  auto scope = kura::cli::AddScopeCommand(app);
  auto lab = kura::cli::AddLabCommand(app);
  auto fsck = kura::cli::AddFsckCommand(app);
  auto db = kura::cli::AddDbCommand(app);
  auto migrate = kura::cli::AddMigrateCommand(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const kura::cli::CommandError& e) {
    std::cerr << "kura: " << e.what() << "\n";
    return 1;
  }

  if (serve->parsed()) {
    try {
      kura::server::ServerConfig config;
      if (!config_file.empty()) config = kura::server::LoadConfig(config_file);
      if (!listen.empty()) {
        kura::server::SetListen(config.registry, listen);
        config.registry_enabled = true;
      }
      if (!data.empty()) config.data_dir = data;
      if (threads) config.threads = threads;
      return kura::cli::Serve(config);
    } catch (const kura::server::ConfigError& e) {
      std::cerr << "kura serve: " << e.what() << "\n";
      return 2;
    }
  }
  return 0;
}
