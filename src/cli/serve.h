// `kura serve`: the registry server process.
#pragma once

#include "server/config.h"

namespace kura::cli {

// Runs the server until SIGINT or SIGTERM. Returns the process exit code; prints a one-line
// reason on stderr when it cannot start.
int Serve(const server::ServerConfig& config);

}  // namespace kura::cli
