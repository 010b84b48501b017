// The HTTP client the `kura` command uses to drive the admin REST API.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace kura::cli {

// Thrown for a one-line error the command prints as "kura: <message>".
class CommandError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class AdminClient {
 public:
  // `server` is "http://host:port" (KURA_SERVER); `token` an account's admin token (KURA_TOKEN).
  // Throws CommandError if the URL is malformed.
  AdminClient(const std::string& server, std::string token);

  // Sends one call and returns the JSON answer. Throws CommandError with the server's "error"
  // for a non-2xx answer, or with the reason when the server cannot be reached.
  nlohmann::json Call(const std::string& method, const std::string& path,
                      const nlohmann::json& body = nullptr) const;

 private:
  std::string host_;
  std::string port_;
  std::string token_;
};

}  // namespace kura::cli
