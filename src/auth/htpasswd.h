// Users and passwords from an htpasswd file as `htpasswd -B` writes it ("user:$2y$..."), checked
// with libxcrypt (bcrypt, yescrypt, sha512-crypt). A bcrypt check costs milliseconds, and clients
// send Basic credentials on every request, so good answers are remembered for a while.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/password.h"

namespace kura::auth {

class HtpasswdFile {
 public:
  // Reads `path`. Throws std::runtime_error naming the file and line of a malformed entry.
  explicit HtpasswdFile(const std::string& path);
  // Builds from file contents (for tests). Same errors as above, with `origin` as the name.
  HtpasswdFile(std::string_view contents, const std::string& origin);

  // True if `password` is the password of `user`. Thread-safe.
  bool Verify(std::string_view user, std::string_view password) const;

  size_t size() const { return hashes_.size(); }

 private:
  void Parse(std::string_view contents, const std::string& origin);

  std::unordered_map<std::string, std::string> hashes_;  // user -> crypt(3) hash
  mutable VerifiedPasswords verified_;
};

// Decodes "Basic base64(user:password)". Returns nullopt if the header is not Basic or malformed.
struct BasicCredentials {
  std::string user;
  std::string password;
};
std::optional<BasicCredentials> ParseBasicAuthorization(std::string_view header);

}  // namespace kura::auth
