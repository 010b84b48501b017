// libFuzzer target: topology files must never crash the loader or the analyzer.
//  - ParseTopology either returns a Topology or throws TopologyError, whose message starts with
//    the file name; any other exception is a bug;
//  - on a world it accepts, Analyze() agrees with Explain() on every pair, and the report writes
//    in every format.
// Worlds whose instances hold password hashes are not analyzed: a hash may ask bcrypt for any
// cost, and checking it is slow on purpose.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

#include "analyzer/analyzer.h"
#include "analyzer/explain.h"
#include "analyzer/report_writer.h"
#include "analyzer/topology_index.h"
#include "topology/topology.h"

namespace {

bool HasPasswordHashes(const kura::topology::Topology& topology) {
  for (const auto& [name, setup] : topology.instances) {
    for (const auto& credential : setup.credentials) {
      if (credential.password_hash) return true;
    }
  }
  return false;
}

void Analyze(const kura::topology::Topology& topology) {
  using kura::access::EndpointKind;
  if (HasPasswordHashes(topology)) return;
  if (topology.host_order.size() * topology.instance_order.size() > 4096) return;
  kura::analyzer::ExposureReport report = kura::analyzer::Analyze(topology, {1});
  kura::analyzer::TopologyIndex index(topology);
  for (size_t h = 0; h < report.hosts().size(); ++h) {
    for (size_t i = 0; i < report.instances().size(); ++i) {
      for (EndpointKind kind : {EndpointKind::kInternet, EndpointKind::kVpc}) {
        kura::analyzer::PairExplanation e =
            kura::analyzer::Explain(index, *report.hosts()[h], *report.instances()[i], kind);
        if (e.outcome != report.At(h, i, kind)) __builtin_trap();
      }
    }
  }
  for (auto format : {kura::analyzer::ReportFormat::kTable, kura::analyzer::ReportFormat::kJson,
                      kura::analyzer::ReportFormat::kDot}) {
    std::ostringstream out;
    kura::analyzer::WriteReport(index, report, format, out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    kura::topology::Topology topology = kura::topology::ParseTopology(text, "fuzz.yaml");
    Analyze(topology);
  } catch (const kura::topology::TopologyError& e) {
    if (std::string_view(e.what()).substr(0, 9) != "fuzz.yaml") __builtin_trap();
  }
  return 0;
}
