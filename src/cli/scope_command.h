// `kura scope`: the exposure analyzer on a topology file (topology/topology.h).
//
//   kura scope analyze FILE [--format table|json|dot] [--threads N]
//   kura scope explain FILE HOST INSTANCE internet|vpc [--format text|json]
//   kura scope generate --hosts N --instances M        a large topology file on stdout
//   kura scope bench --hosts N --instances M [--threads N]
//
// Results go to stdout. An error is one line on stderr, "kura scope: FILE:LINE: reason" for a
// bad topology file, and the exit status is 1.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace kura::cli {

// Adds `scope` to app. Returns the subcommands' state, which must live as long as app.
std::shared_ptr<void> AddScopeCommand(CLI::App& app);

}  // namespace kura::cli
