// The `kura` verbs that drive the admin REST API: instance, network, subnet, endpoint,
// credential, token, namespace. Each prints a short text answer, or the API's JSON with
// --output json, and fails with one line naming the reason.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

namespace kura::cli {

struct AdminOptions {
  std::string server;
  std::string token;
  std::string output = "text";
};

// Adds the verbs to `app`; they read `options` when they run. Returns the verbs' state, which
// must live as long as `app`.
std::shared_ptr<void> AddAdminCommands(CLI::App& app, AdminOptions& options);

}  // namespace kura::cli
