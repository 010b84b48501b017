#include "analyzer/login_check.h"

#include "auth/password.h"

namespace kura::analyzer {

LoginResult CheckLogin(const std::optional<topology::Login>& login,
                       const topology::InstanceSetup& instance) {
  if (!login) return LoginResult::kNoLogin;
  for (const topology::InstanceCredential& credential : instance.credentials) {
    if (credential.user != login->user) continue;
    const bool matches = credential.password
                             ? *credential.password == login->password
                             : auth::CheckPassword(login->password, *credential.password_hash);
    return matches ? LoginResult::kAccepted : LoginResult::kWrongPassword;
  }
  return LoginResult::kUnknownUser;
}

}  // namespace kura::analyzer
