// `kura fsck [--data DIR] [--no-hash]`: checks the registry's stored data
// (registry/consistency_check.h) and prints one line per problem, then a summary. Exit status 0
// when everything holds together, 1 when a problem was found, 2 when the data cannot be read.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace kura::cli {

// Adds `fsck` to app. Returns its state, which must live as long as app.
std::shared_ptr<void> AddFsckCommand(CLI::App& app);

}  // namespace kura::cli
