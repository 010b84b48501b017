#include "server/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <stdexcept>

#include "core/json_text.h"

namespace kura::server {

using namespace std::string_view_literals;
using core::AppendJsonString;

namespace {

// The current second in ISO 8601 (UTC), formatted once per second per thread.
const std::string& IsoNow() {
  thread_local std::time_t formatted_second = -1;
  thread_local std::string formatted;
  std::time_t t = std::time(nullptr);
  if (t != formatted_second) {
    std::tm tm{};
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", ::gmtime_r(&t, &tm));
    formatted = buf;
    formatted_second = t;
  }
  return formatted;
}

}  // namespace

void BuildAuditLine(const access::ConnectionContext& ctx, const access::Instance& instance,
                    const access::Decision& d, std::string& line) {
  // Time, address, endpoint kind and rule name are written by kura and need no escaping.
  auto append_quoted = [&line](std::string_view text) {
    line.push_back('"');
    line.append(text);
    line.push_back('"');
  };
  line.clear();
  line += "{\"time\":"sv;
  append_quoted(IsoNow());
  line += ",\"source\":"sv;
  append_quoted(ctx.source.ToString());
  line += ",\"arrival_network\":"sv;
  if (ctx.arrival_network) {
    AppendJsonString(line, ctx.arrival_network->id);
  } else {
    line += "null"sv;
  }
  line += ",\"endpoint\":"sv;
  append_quoted(access::EndpointKindName(ctx.kind));
  line += ",\"instance\":"sv;
  AppendJsonString(line, instance.name);
  line += ",\"rule\":"sv;
  append_quoted(access::RuleName(d.rule));
  line += d.allowed ? ",\"allowed\":true"sv : ",\"allowed\":false,\"reason\":"sv;
  if (!d.allowed) AppendJsonString(line, d.reason);
  line += "}\n"sv;
}

AuditLog::AuditLog(const std::string& path)
    : fd_(path.empty() ? STDERR_FILENO
                       : ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)),
      owned_(!path.empty()) {
  if (fd_ < 0) throw std::runtime_error("cannot open audit log " + path);
  writer_ = std::thread([this] { Run(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  writer_.join();
  if (owned_) ::close(fd_);
}

void AuditLog::Write(std::string_view line) {
  std::lock_guard lock(mu_);
  queued_ += line;
  // Only a writer asleep on an empty queue needs waking; under load it is never asleep there.
  if (writer_idle_) cv_.notify_one();
}

void AuditLog::Run() {
  std::string batch;
  std::unique_lock lock(mu_);
  while (true) {
    writer_idle_ = true;
    cv_.wait(lock, [&] { return !queued_.empty() || stopping_; });
    writer_idle_ = false;
    if (queued_.empty()) return;
    batch.swap(queued_);
    lock.unlock();
    // Whole lines in one write(2) on an O_APPEND file: they never interleave with another
    // writer's. A failed write loses these lines, never a request.
    (void)!::write(fd_, batch.data(), batch.size());
    batch.clear();
    if (batch.capacity() > (1 << 20)) batch.shrink_to_fit();  // a burst is not kept forever
    lock.lock();
    // Let lines gather before the next write: waking this thread per request cost more than the
    // write itself.
    cv_.wait_for(lock, kGatherTime, [&] { return stopping_; });
  }
}

}  // namespace kura::server
