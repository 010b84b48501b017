// `kura lab`: build a topology file as network namespaces, log in from every host, tear down.
//
//   kura lab up FILE [--prefix P] [--state DIR]
//   kura lab verify FILE [--prefix P] [--state DIR] [--no-push]
//   kura lab down [--prefix P] [--state DIR]
//
// Needs root (network namespaces). Errors are one line on stderr; verify exits 1 when the live
// logins differ from the analysis.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace kura::cli {

std::shared_ptr<void> AddLabCommand(CLI::App& app);

}  // namespace kura::cli
