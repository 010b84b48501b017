// The exposure report as people and programs read it (`kura scope analyze --format ...`):
//
//   table  a matrix, one row per host and one column per instance and endpoint, each cell
//          "allowed" or "denied: <step>", then the reason of every denial;
//   json   a JSON array, one object per line and per (host, instance, endpoint):
//          {"host", "instance", "endpoint": "internet"|"vpc", "allowed", "step", "reason",
//           "address": the resolved address or null, "rule": the admission rule or null};
//   dot    a Graphviz digraph: regions, networks with their hosts and VPC endpoints, the
//          Internet with the Internet endpoints, transit networks joining networks, and an edge
//          from each host to each endpoint it reaches.
//
// Reasons come from Explain() (explain.h). A writer throws std::logic_error if Explain() ever
// disagrees with the report, which would be a bug of the analyzer.

#ifndef KURA_ANALYZER_REPORT_WRITER_H_
#define KURA_ANALYZER_REPORT_WRITER_H_

#include <optional>
#include <ostream>
#include <string_view>

#include "analyzer/analyzer.h"
#include "analyzer/explain.h"
#include "analyzer/topology_index.h"

namespace kura::analyzer {

enum class ReportFormat { kTable, kJson, kDot };

// The format named "table", "json" or "dot", or nullopt.
std::optional<ReportFormat> ParseReportFormat(std::string_view name);

// Writes report, made by Analyze(index.topology()), in format to out.
void WriteReport(const TopologyIndex& index, const ExposureReport& report, ReportFormat format,
                 std::ostream& out);

// One explanation as text: a headline, then one line per step.
void WriteExplanationText(const PairExplanation& explanation, std::ostream& out);

// One explanation as a JSON object: host, instance, endpoint, hostname, allowed, step, reason,
// address, rule, and steps: [{step, state, detail}].
void WriteExplanationJson(const PairExplanation& explanation, std::ostream& out);

}  // namespace kura::analyzer

#endif  // KURA_ANALYZER_REPORT_WRITER_H_
