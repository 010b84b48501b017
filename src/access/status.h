// The outcome of an operation that changes the exposure model: ok, or a code and one line a CLI
// can print as it is ("cannot bind network vpc-b to instance acme: network belongs to account B,
// instance to account A").

#ifndef KURA_ACCESS_STATUS_H_
#define KURA_ACCESS_STATUS_H_

#include <string>
#include <utility>

namespace kura::access {

class Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,  // the input is malformed (a bad name, a CIDR outside its network)
    kNotFound,         // a named account, region, network, subnet, instance or zone is unknown
    kAlreadyExists,    // the thing to create, or the binding to make, is already there
    kRefused,          // a rule of EXPOSURE.md forbids it (e.g. binding another account's network)
    kExhausted,        // no free address is left in the subnet
  };

  // Success.
  Status() = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message) {
    return Status(Code::kInvalidArgument, std::move(message));
  }
  static Status NotFound(std::string message) {
    return Status(Code::kNotFound, std::move(message));
  }
  static Status AlreadyExists(std::string message) {
    return Status(Code::kAlreadyExists, std::move(message));
  }
  static Status Refused(std::string message) { return Status(Code::kRefused, std::move(message)); }
  static Status Exhausted(std::string message) {
    return Status(Code::kExhausted, std::move(message));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // Empty on success; otherwise one line, no trailing newline.
  const std::string& message() const { return message_; }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace kura::access

#endif  // KURA_ACCESS_STATUS_H_
