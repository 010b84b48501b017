// The whole chain for one (host, instance, endpoint): each step of EXPOSURE.md with its result
// in words, as `kura scope explain` prints it. Explain() walks the same steps as Analyze()
// (topology_index.h, access::Admit, login_check.h), one pair at a time, and its outcome always
// equals the report's.

#ifndef KURA_ANALYZER_EXPLAIN_H_
#define KURA_ANALYZER_EXPLAIN_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "access/endpoint_kind.h"
#include "access/model.h"
#include "analyzer/analyzer.h"
#include "analyzer/step.h"
#include "analyzer/topology_index.h"
#include "core/cidr.h"

namespace kura::analyzer {

enum class StepState { kPassed, kFailed, kSkipped };

// "passed", "failed" or "skipped".
std::string_view StepStateName(StepState state);

struct StepExplanation {
  Step step = Step::kResolve;
  StepState state = StepState::kSkipped;
  // One line; empty when skipped.
  std::string detail;
};

struct PairExplanation {
  std::string host;
  std::string instance;
  access::EndpointKind kind = access::EndpointKind::kInternet;
  // The endpoint's hostname.
  std::string hostname;
  Outcome outcome;
  // The address the hostname resolved to, if it did.
  std::optional<core::IpAddress> address;
  // The transit network the route crosses, if it crosses one.
  std::string transit;
  // Resolve, route, admit, authenticate, in that order: passed up to the first failure, which
  // is failed; the rest skipped.
  std::vector<StepExplanation> steps;
  // One line: the failed step's detail; for an allowed pair the path, the admission and the
  // login together.
  std::string reason;
};

// Explains host against the endpoint `kind` of instance; both must be of index.topology().
PairExplanation Explain(const TopologyIndex& index, const access::Host& host,
                        const access::Instance& instance, access::EndpointKind kind);

// The endpoint kind named "internet" or "vpc", or nullopt.
std::optional<access::EndpointKind> ParseEndpointKind(std::string_view name);

// Explain() by names. Throws std::invalid_argument with one line ("no host ecs-z in the
// topology") if the host, the instance or the endpoint kind is unknown.
PairExplanation Explain(const TopologyIndex& index, std::string_view host,
                        std::string_view instance, std::string_view endpoint);

}  // namespace kura::analyzer

#endif  // KURA_ANALYZER_EXPLAIN_H_
