#include "lab/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace kura::lab {

namespace {

// posix_spawnp of argv with these file actions and attributes, which it then destroys. Returns
// 0 or an errno value.
int Spawn(const std::vector<std::string>& argv, posix_spawn_file_actions_t* actions,
          posix_spawnattr_t* attr, pid_t* pid) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = posix_spawnp(pid, args[0], actions, attr, args.data(), environ);
  posix_spawn_file_actions_destroy(actions);
  posix_spawnattr_destroy(attr);
  return rc;
}

}  // namespace

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) {
    if (!line.empty()) line += ' ';
    bool plain = !a.empty() && a.find_first_of(" \t'\"\\$") == std::string::npos;
    line += plain ? a : "'" + a + "'";
  }
  return line;
}

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds limit,
                         const std::string& input) {
  CommandResult result;
  int out[2], in[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return result;
  if (::pipe2(in, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  int rc = Spawn(argv, &actions, &attr, &pid);
  ::close(out[1]);
  ::close(in[0]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(in[1]);
    result.output = "cannot run " + argv[0] + ": " + std::strerror(rc);
    return result;
  }
  // Small inputs only (passwords): they fit in the pipe buffer.
  if (!input.empty()) (void)!::write(in[1], input.data(), input.size());
  ::close(in[1]);

  auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    ssize_t r = ::read(out[0], buf, sizeof buf);
    if (r <= 0) break;  // the child closed its output (it ended, or daemonised)
    if (result.output.size() < (1 << 20)) result.output.append(buf, static_cast<size_t>(r));
  }
  ::close(out[0]);
  int status = 0;
  // The output closed; the child is ending. Wait, but never past the limit.
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    ::usleep(10000);
  }
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

int SpawnBackground(const std::vector<std::string>& argv, const std::string& log_path) {
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) throw std::runtime_error("cannot open " + log_path + ": " + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, log, 1);
  posix_spawn_file_actions_adddup2(&actions, log, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  pid_t pid = -1;
  int rc = Spawn(argv, &actions, &attr, &pid);
  ::close(log);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

std::string RunOrThrow(const std::vector<std::string>& argv, std::chrono::milliseconds limit) {
  CommandResult r = RunCommand(argv, limit);
  if (r.exit_code != 0) {
    std::string why = r.timed_out ? "timed out" : "failed";
    std::string out = r.output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    throw std::runtime_error(CommandLine(argv) + " " + why + (out.empty() ? "" : ": " + out));
  }
  return r.output;
}

}  // namespace kura::lab
