// The exposure analysis: for every host of a topology and every endpoint of every instance,
// allowed, or denied at the first step that fails (EXPOSURE.md: resolve, route, admit,
// authenticate). The steps are those of topology_index.h and login_check.h; admission is
// access::Admit, the function the live server calls, never a copy of its rules.
//
// Analyze() keeps one byte per (host, instance, endpoint): the step reached and the admission
// rule. Words come from Explain() (explain.h), which walks the same steps for one pair; the two
// agree by construction and the writers check it.

#ifndef KURA_ANALYZER_ANALYZER_H_
#define KURA_ANALYZER_ANALYZER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "access/endpoint_kind.h"
#include "access/model.h"
#include "access/policy.h"
#include "analyzer/step.h"
#include "topology/topology.h"

namespace kura::analyzer {

// The result for one (host, instance, endpoint).
struct Outcome {
  // The first step that failed, or kOk when allowed.
  Step step = Step::kResolve;
  // The admission rule that decided, when the pair got as far as admission.
  std::optional<access::Rule> rule;

  bool allowed() const { return step == Step::kOk; }

  friend bool operator==(const Outcome&, const Outcome&) = default;
};

class ExposureReport {
 public:
  ExposureReport() = default;

  // Hosts and instances in the order of the topology (Topology::host_order, instance_order).
  // The pointers point into the analyzed Topology's World.
  const std::vector<const access::Host*>& hosts() const { return hosts_; }
  const std::vector<const access::Instance*>& instances() const { return instances_; }

  // The outcome for hosts()[host] against the endpoint `kind` of instances()[instance].
  Outcome At(size_t host, size_t instance, access::EndpointKind kind) const;

  // hosts × instances × 2.
  size_t pair_count() const { return cells_.size(); }
  size_t allowed_count() const;

 private:
  friend class ExposureReportBuilder;

  static uint8_t Encode(const Outcome& outcome);
  static Outcome Decode(uint8_t cell);
  size_t CellOf(size_t host, size_t instance, access::EndpointKind kind) const {
    return (host * instances_.size() + instance) * 2 +
           (kind == access::EndpointKind::kInternet ? 0 : 1);
  }

  std::vector<const access::Host*> hosts_;
  std::vector<const access::Instance*> instances_;
  std::vector<uint8_t> cells_;
};

struct AnalyzeOptions {
  // Worker threads; 0: one per core.
  unsigned threads = 0;
};

// Analyzes every pair of topology. O(hosts × instances) admissions, plus per network
// O(instances) resolutions and routes; no allocation per allowed pair beyond what Admit makes.
// The report points into topology, which must outlive it.
ExposureReport Analyze(const topology::Topology& topology, const AnalyzeOptions& options = {});

}  // namespace kura::analyzer

#endif  // KURA_ANALYZER_ANALYZER_H_
