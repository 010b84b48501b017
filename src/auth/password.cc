#include "auth/password.h"

#include <crypt.h>

#include <stdexcept>

#include "core/digest.h"

namespace kura::auth {
namespace {

constexpr auto kRememberFor = std::chrono::minutes(5);
constexpr size_t kMaxRemembered = 10000;
constexpr unsigned long kBcryptCost = 10;

}  // namespace

std::string HashPassword(std::string_view password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$2b$", kBcryptCost, nullptr, 0, salt, sizeof salt)) {
    throw std::runtime_error("cannot make a bcrypt salt");
  }
  crypt_data data{};
  std::string pw(password);
  const char* out = crypt_r(pw.c_str(), salt, &data);
  if (!out || out[0] == '*') throw std::runtime_error("cannot hash password");
  return out;
}

bool CheckPassword(std::string_view password, const std::string& hash) {
  crypt_data data{};
  std::string pw(password);
  const char* out = crypt_r(pw.c_str(), hash.c_str(), &data);
  return out != nullptr && out[0] != '*' && hash == out;
}

namespace {

// The key binds the hash too: a changed password is never answered from memory.
std::string RememberedKey(std::string_view user, std::string_view password,
                          const std::string& hash) {
  return core::Sha256Of(std::string(user) + '\0' + std::string(password) + '\0' + hash).str();
}

}  // namespace

bool VerifiedPasswords::Check(std::string_view user, std::string_view password,
                              const std::string& hash) {
  if (Remembered(user, password, hash)) return true;
  if (!CheckPassword(password, hash)) return false;
  Remember(user, password, hash);
  return true;
}

bool VerifiedPasswords::Remembered(std::string_view user, std::string_view password,
                                   const std::string& hash) {
  std::string key = RememberedKey(user, password, hash);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  auto hit = remembered_.find(key);
  return hit != remembered_.end() && hit->second > now;
}

void VerifiedPasswords::Remember(std::string_view user, std::string_view password,
                                 const std::string& hash) {
  std::string key = RememberedKey(user, password, hash);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  if (remembered_.size() >= kMaxRemembered) remembered_.clear();
  remembered_[key] = now + kRememberFor;
}

}  // namespace kura::auth
