// Running other programs (ip, skopeo, the kura server) from the lab: argv only, never a shell,
// and always with a time limit.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace kura::lab {

struct CommandResult {
  int exit_code = -1;     // -1 when it could not start or was killed at the time limit
  bool timed_out = false;
  std::string output;     // stdout and stderr, interleaved
};

// Runs argv[0] (looked up in PATH) with `input` on its standard input; kills it (and its process
// group) when `limit` passes.
CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds limit,
                         const std::string& input = "");

// Runs the command and throws std::runtime_error with its output when it fails.
std::string RunOrThrow(const std::vector<std::string>& argv,
                       std::chrono::milliseconds limit = std::chrono::seconds(20));

// Starts argv in the background, in its own session, with stdout and stderr appended to
// `log_path`. Returns its pid; throws std::runtime_error if it cannot start.
int SpawnBackground(const std::vector<std::string>& argv, const std::string& log_path);

// The command as a person would type it (for messages).
std::string CommandLine(const std::vector<std::string>& argv);

}  // namespace kura::lab
