// The login limits of login_throttle.h, held across every node that shares the metadata
// database: without them a guesser spreading its guesses over N nodes behind a load balancer
// would get N times the guesses. Each node still keeps its own LoginThrottle (it also holds back
// a burst of attempts in flight); this adds the counts of every node's failures, kept in the
// AdminStore, checked before a password is, and added to after a failure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/cidr.h"
#include "server/login_throttle.h"
#include "store/admin_store.h"

namespace kura::server {

class SharedLoginLimits {
 public:
  explicit SharedLoginLimits(store::AdminStore& store) : store_(store) {}

  // Why an attempt from `source` as `user` of the instance `instance_key` is refused, if it is:
  // kMaxFailures failures of the source, or of that user, in a window still running. Throws
  // StoreError when the store cannot be read.
  std::optional<LoginThrottle::Refusal> Check(const core::IpAddress& source,
                                              std::string_view instance_key, std::string_view user);
  // A wrong password: one more failure for the source and the user.
  void Failed(const core::IpAddress& source, std::string_view instance_key, std::string_view user);
  // A right one: that user's failures are forgotten (never the source's).
  void Succeeded(std::string_view instance_key, std::string_view user);

 private:
  store::AdminStore& store_;
};

}  // namespace kura::server
