#include "server/health.h"

#include "core/digest.h"

namespace kura::server {

namespace http = boost::beast::http;

std::string Health::NotReadyReason() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - checked_ < std::chrono::seconds(1)) return reason_;
  std::string reason;
  try {
    (void)meta_.FindUpload("readiness-probe");
  } catch (const std::exception& e) {
    reason = std::string("metadata store: ") + e.what();
  }
  if (reason.empty()) {
    try {
      (void)blobs_.Stat(core::Sha256Of("kura readiness probe"));
    } catch (const std::exception& e) {
      reason = std::string("blob store: ") + e.what();
    }
  }
  checked_ = now;
  reason_ = reason;
  return reason;
}

registry::Response Health::Handle(const registry::Request& req) {
  registry::Response r;
  r.fields.set(http::field::content_type, "text/plain; charset=utf-8");
  r.fields.set(http::field::cache_control, "no-store");
  if (req.path != "/healthz" && req.path != "/readyz") {
    r.status = http::status::not_found;
    r.body = "not found: the health listener answers /healthz and /readyz\n";
    return r;
  }
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    r.status = http::status::method_not_allowed;
    r.fields.set(http::field::allow, "GET, HEAD");
    r.body = "method not allowed\n";
    return r;
  }
  if (req.path == "/healthz") {
    r.body = "ok\n";
    return r;
  }
  std::string reason = NotReadyReason();
  if (reason.empty()) {
    r.body = "ready\n";
  } else {
    r.status = http::status::service_unavailable;
    r.fields.set(http::field::retry_after, "1");
    r.body = "not ready: " + reason + "\n";
  }
  return r;
}

}  // namespace kura::server
