#include "server/shared_login_limits.h"

#include <algorithm>

namespace kura::server {
namespace {

const int64_t kWindowSeconds = LoginThrottle::kWindow.count();

}  // namespace

std::optional<LoginThrottle::Refusal> SharedLoginLimits::Check(const core::IpAddress& source,
                                                               std::string_view instance_key,
                                                               std::string_view user) {
  auto refusal =
      [](store::AdminStore::LoginFailures f,
         LoginThrottle::Refusal::Reason reason) -> std::optional<LoginThrottle::Refusal> {
    if (f.failures < LoginThrottle::kMaxFailures) return std::nullopt;
    return LoginThrottle::Refusal{reason,
                                  std::chrono::seconds(std::max<int64_t>(1, f.seconds_left))};
  };
  if (auto no = refusal(store_.FindLoginFailures(LoginThrottle::SourceName(source)),
                        LoginThrottle::Refusal::Reason::kSource)) {
    return no;
  }
  return refusal(store_.FindLoginFailures(LoginThrottle::UserName(instance_key, user)),
                 LoginThrottle::Refusal::Reason::kUser);
}

void SharedLoginLimits::Failed(const core::IpAddress& source, std::string_view instance_key,
                               std::string_view user) {
  store_.RecordLoginFailure(LoginThrottle::SourceName(source), kWindowSeconds);
  store_.RecordLoginFailure(LoginThrottle::UserName(instance_key, user), kWindowSeconds);
}

void SharedLoginLimits::Succeeded(std::string_view instance_key, std::string_view user) {
  store_.ClearLoginFailures(LoginThrottle::UserName(instance_key, user));
}

}  // namespace kura::server
