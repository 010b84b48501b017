// The steps of a login, in the order EXPOSURE.md checks them: a denial names the first that
// fails; an allowed pair ends at kOk.

#ifndef KURA_ANALYZER_STEP_H_
#define KURA_ANALYZER_STEP_H_

#include <cstdint>
#include <string_view>

namespace kura::analyzer {

enum class Step : uint8_t {
  kResolve,       // the endpoint's hostname resolves from the host's network
  kRoute,         // a path exists from the host to that address, and an endpoint listens there
  kAdmit,         // access::Admit lets the connection in
  kAuthenticate,  // the host's credentials are valid for the instance
  kOk,            // every step passed: allowed
};

// "resolve", "route", "admit", "authenticate" or "ok".
constexpr std::string_view StepName(Step step) {
  switch (step) {
    case Step::kResolve:
      return "resolve";
    case Step::kRoute:
      return "route";
    case Step::kAdmit:
      return "admit";
    case Step::kAuthenticate:
      return "authenticate";
    case Step::kOk:
      return "ok";
  }
  return "unknown";
}

}  // namespace kura::analyzer

#endif  // KURA_ANALYZER_STEP_H_
