// Step 4 of EXPOSURE.md, authenticate: are the credentials a host sends valid for the instance?
// The same question the live server asks of a Basic login, over the topology's credentials.

#ifndef KURA_ANALYZER_LOGIN_CHECK_H_
#define KURA_ANALYZER_LOGIN_CHECK_H_

#include <cstdint>
#include <optional>

#include "topology/topology.h"

namespace kura::analyzer {

enum class LoginResult : uint8_t {
  kAccepted,       // the user exists and the password matches (plain, or its crypt(3) hash)
  kNoLogin,        // the host has nothing to send (see Topology::LoginOf)
  kUnknownUser,    // the instance has no such user
  kWrongPassword,  // the user exists, the password does not match
};

// Checks login against the credentials of instance. A credential given as a hash is checked
// with auth::CheckPassword, which costs milliseconds (bcrypt): callers that check many pairs
// remember the answers. Thread-safe.
LoginResult CheckLogin(const std::optional<topology::Login>& login,
                       const topology::InstanceSetup& instance);

}  // namespace kura::analyzer

#endif  // KURA_ANALYZER_LOGIN_CHECK_H_
