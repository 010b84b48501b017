// Password hashes (bcrypt through libxcrypt) and a short-lived memory of good answers: a bcrypt
// check costs milliseconds on purpose, while registry clients send Basic credentials on every
// request.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kura::auth {

// A new bcrypt hash of `password` with a random salt. Throws std::runtime_error if the system
// cannot make one.
std::string HashPassword(std::string_view password);

// True if `password` matches the crypt(3) `hash` (bcrypt, yescrypt, sha512-crypt...).
bool CheckPassword(std::string_view password, const std::string& hash);

// Remembers (user, password, hash) triples that matched, for a few minutes. Thread-safe.
// A changed hash (a new password) is never answered from memory: the hash is part of the key.
class VerifiedPasswords {
 public:
  // True if `password` matches `hash`, answered from memory when it matched recently. Runs
  // bcrypt on the calling thread on a miss.
  bool Check(std::string_view user, std::string_view password, const std::string& hash);

  // True if (user, password, hash) matched recently; never runs bcrypt.
  bool Remembered(std::string_view user, std::string_view password, const std::string& hash);
  // Records that `password` matched `hash` (checked elsewhere, e.g. on a pool thread).
  void Remember(std::string_view user, std::string_view password, const std::string& hash);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> remembered_;
};

}  // namespace kura::auth
