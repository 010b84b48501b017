// The audit log of the endpoint listeners: one JSON line per admission decision (who came from
// where to which endpoint of which instance, the rule that decided, and why a denial).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "access/policy.h"

namespace kura::server {

// One JSON line per admission decision. Thread-safe. Lines are queued and written by a thread of
// the log's own, as many as have queued up in one write(2): a write per request was a tenth of
// the server's CPU time under load (bench/README.md). A line reaches the file within a few
// milliseconds; on a clean stop the queue is written out before the log closes.
class AuditLog {
 public:
  // Appends to `path`, or writes to stderr when it is empty. Throws if the file cannot be opened.
  explicit AuditLog(const std::string& path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  // `line` ends with a newline.
  void Write(std::string_view line);

 private:
  void Run();

  int fd_;
  bool owned_;
  std::mutex mu_;
  std::condition_variable cv_;
  static constexpr std::chrono::milliseconds kGatherTime{2};

  std::string queued_;        // whole lines (guarded by mu_)
  bool writer_idle_ = false;  // the writer waits for a line (guarded by mu_)
  bool stopping_ = false;     // guarded by mu_
  std::thread writer_;
};

// The audit line of one decision, built by hand into `line` (cleared first; it is written for
// every request, so callers reuse one buffer):
//   {"time":"2024-05-01T12:00:00Z","source":"192.0.2.1","arrival_network":null,
//    "endpoint":"internet","instance":"acme","rule":"allowlist","allowed":true}
// with ,"allowed":false,"reason":"..." for a denial. Ends with a newline.
void BuildAuditLine(const access::ConnectionContext& ctx, const access::Instance& instance,
                    const access::Decision& decision, std::string& line);

}  // namespace kura::server
