#include "analyzer/report_writer.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace kura::analyzer {
namespace {

using Json = nlohmann::ordered_json;

constexpr access::EndpointKind kKinds[2] = {access::EndpointKind::kInternet,
                                            access::EndpointKind::kVpc};

// Explain() for a cell of the report, checked against it.
PairExplanation ExplainCell(const TopologyIndex& index, const ExposureReport& report, size_t host,
                            size_t instance, access::EndpointKind kind) {
  PairExplanation explanation =
      Explain(index, *report.hosts()[host], *report.instances()[instance], kind);
  if (explanation.outcome != report.At(host, instance, kind)) {
    throw std::logic_error("the analyzer disagrees with itself on " + explanation.host + " -> " +
                           explanation.instance + " " +
                           std::string(access::EndpointKindName(kind)));
  }
  return explanation;
}

std::string CellText(const Outcome& outcome) {
  return outcome.allowed() ? "allowed" : "denied: " + std::string(StepName(outcome.step));
}

void WriteTable(const TopologyIndex& index, const ExposureReport& report, std::ostream& out) {
  const size_t hosts = report.hosts().size();
  const size_t instances = report.instances().size();
  out << "exposure of " << index.topology().source << ": " << hosts << " host"
      << (hosts == 1 ? "" : "s") << ", " << instances << " instance" << (instances == 1 ? "" : "s")
      << ", " << report.allowed_count() << " of " << report.pair_count()
      << " host-endpoint pairs allowed\n\n";

  std::vector<std::vector<std::string>> rows;
  rows.push_back({"host"});
  for (const access::Instance* instance : report.instances()) {
    for (access::EndpointKind kind : kKinds) {
      rows.front().push_back(instance->name + " " + std::string(access::EndpointKindName(kind)));
    }
  }
  for (size_t h = 0; h < hosts; ++h) {
    std::vector<std::string>& row = rows.emplace_back();
    row.push_back(report.hosts()[h]->id);
    for (size_t i = 0; i < instances; ++i) {
      for (access::EndpointKind kind : kKinds) row.push_back(CellText(report.At(h, i, kind)));
    }
  }
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    out << line << "\n";
  }

  bool header = false;
  for (size_t h = 0; h < hosts; ++h) {
    for (size_t i = 0; i < instances; ++i) {
      for (access::EndpointKind kind : kKinds) {
        if (report.At(h, i, kind).allowed()) continue;
        if (!header) out << "\ndenied:\n";
        header = true;
        PairExplanation e = ExplainCell(index, report, h, i, kind);
        out << "  " << e.host << " -> " << e.instance << " " << access::EndpointKindName(kind)
            << ": " << StepName(e.outcome.step) << ": " << e.reason << "\n";
      }
    }
  }
}

Json RowJson(const PairExplanation& e) {
  Json row;
  row["host"] = e.host;
  row["instance"] = e.instance;
  row["endpoint"] = std::string(access::EndpointKindName(e.kind));
  row["allowed"] = e.outcome.allowed();
  row["step"] = std::string(StepName(e.outcome.step));
  row["reason"] = e.reason;
  row["address"] = e.address ? Json(e.address->ToString()) : Json(nullptr);
  row["rule"] =
      e.outcome.rule ? Json(std::string(access::RuleName(*e.outcome.rule))) : Json(nullptr);
  return row;
}

void WriteJson(const TopologyIndex& index, const ExposureReport& report, std::ostream& out) {
  out << "[";
  bool first = true;
  for (size_t h = 0; h < report.hosts().size(); ++h) {
    for (size_t i = 0; i < report.instances().size(); ++i) {
      for (access::EndpointKind kind : kKinds) {
        out << (first ? "\n" : ",\n")
            << RowJson(ExplainCell(index, report, h, i, kind))
                   .dump(-1, ' ', false, Json::error_handler_t::replace);
        first = false;
      }
    }
  }
  out << (first ? "]\n" : "\n]\n");
}

// A double-quoted DOT ID.
std::string Quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

void WriteDot(const TopologyIndex& index, const ExposureReport& report, std::ostream& out) {
  const topology::Topology& topology = index.topology();
  const access::World& world = topology.world;
  out << "digraph exposure {\n"
         "  rankdir=LR;\n"
         "  compound=true;\n"
         "  graph [fontname=\"Helvetica\", fontsize=11];\n"
         "  node [fontname=\"Helvetica\", fontsize=10];\n"
         "  edge [fontname=\"Helvetica\", fontsize=9];\n";

  // The Internet and the Internet endpoints.
  out << "  subgraph " << Quoted("cluster_internet") << " {\n"
      << "    label=\"Internet\"; style=dashed;\n";
  for (const access::Instance* instance : report.instances()) {
    const topology::InstanceSetup& setup = topology.SetupOf(instance->name);
    std::string state;
    if (instance->edition == access::Edition::kPersonal) {
      state = "open to all";
    } else if (!instance->internet.enabled) {
      state = "disabled";
    } else {
      state = std::to_string(instance->internet.allowlist.size()) + " allowlist entr" +
              (instance->internet.allowlist.size() == 1 ? "y" : "ies");
    }
    out << "    " << Quoted("internet/" + instance->name) << " [shape=box, label="
        << Quoted(instance->name + " internet endpoint\n" +
                  world.Hostname(*instance, access::EndpointKind::kInternet) + "\n" +
                  setup.internet_address.ToString() + " (" + state + ")")
        << "];\n";
  }
  out << "  }\n";

  // Regions, their networks, hosts and VPC endpoints. A topology's network ids are unique
  // (topology.h), so a network's node is named by its id; networks are drawn in id order.
  std::map<access::NetworkKey, std::vector<const access::Host*>> hosts_of_network;
  for (const access::Host* host : report.hosts()) {
    hosts_of_network[world.FindSubnet(host->subnet)->network].push_back(host);
  }
  std::map<std::string, const access::Network*> networks_by_id;
  for (const auto& [key, network] : world.networks()) networks_by_id.emplace(key.id, &network);
  for (const auto& [region_id, region] : world.regions()) {
    out << "  subgraph " << Quoted("cluster_region/" + region_id) << " {\n"
        << "    label="
        << Quoted("region " + region_id + (region.name.empty() ? "" : " (" + region.name + ")"))
        << ";\n";
    for (const access::Instance* instance : report.instances()) {
      if (instance->region != region_id) continue;
      std::string label = instance->name + " vpc endpoint\n" +
                          world.Hostname(*instance, access::EndpointKind::kVpc);
      if (instance->edition == access::Edition::kPersonal) {
        label += "\nregional service " + topology.ServiceAddressOf(region_id)->ToString();
      } else if (instance->vpc.bindings.empty()) {
        label += "\nno network bound";
      } else {
        for (const access::VpcBinding& binding : instance->vpc.bindings) {
          label += "\n" + binding.private_ip.ToString() + " in " + binding.network;
        }
      }
      out << "    " << Quoted("vpc/" + instance->name) << " [shape=box, label=" << Quoted(label)
          << "];\n";
    }
    for (const auto& [network_id, network] : networks_by_id) {
      if (network->region != region_id) continue;
      std::string label = network_id + " (account " + network->account + ")";
      for (const core::Cidr& cidr : network->cidrs) label += "\n" + cidr.ToString();
      out << "    subgraph " << Quoted("cluster_network/" + network_id) << " {\n"
          << "      label=" << Quoted(label) << ";\n"
          << "      " << Quoted("network/" + network_id) << " [shape=point, style=invis];\n";
      for (const access::Host* host : hosts_of_network[network->key()]) {
        std::string host_label = host->id + "\n" + host->private_ip.ToString();
        if (host->public_ip) host_label += "\npublic " + host->public_ip->ToString();
        out << "      " << Quoted("host/" + host->id)
            << " [shape=ellipse, label=" << Quoted(host_label) << "];\n";
      }
      out << "    }\n";
    }
    out << "  }\n";
  }

  // Transit networks.
  for (const auto& [transit_id, transit] : world.transit_networks()) {
    out << "  " << Quoted("transit/" + transit_id)
        << " [shape=diamond, label=" << Quoted("transit " + transit_id) << "];\n";
    for (const access::NetworkKey& network : transit.networks) {
      out << "  " << Quoted("transit/" + transit_id) << " -> " << Quoted("network/" + network.id)
          << " [dir=none, style=bold, color=gray40, lhead="
          << Quoted("cluster_network/" + network.id) << "];\n";
    }
  }

  // Who reaches what.
  for (size_t h = 0; h < report.hosts().size(); ++h) {
    for (size_t i = 0; i < report.instances().size(); ++i) {
      for (access::EndpointKind kind : kKinds) {
        if (!report.At(h, i, kind).allowed()) continue;
        const std::string target =
            (kind == access::EndpointKind::kInternet ? "internet/" : "vpc/") +
            report.instances()[i]->name;
        std::string attributes = "color=darkgreen";
        PairExplanation e = ExplainCell(index, report, h, i, kind);
        if (!e.transit.empty()) attributes += ", style=dashed, label=" + Quoted("via " + e.transit);
        out << "  " << Quoted("host/" + report.hosts()[h]->id) << " -> " << Quoted(target) << " ["
            << attributes << "];\n";
      }
    }
  }
  out << "}\n";
}

}  // namespace

std::optional<ReportFormat> ParseReportFormat(std::string_view name) {
  if (name == "table") return ReportFormat::kTable;
  if (name == "json") return ReportFormat::kJson;
  if (name == "dot") return ReportFormat::kDot;
  return std::nullopt;
}

void WriteReport(const TopologyIndex& index, const ExposureReport& report, ReportFormat format,
                 std::ostream& out) {
  switch (format) {
    case ReportFormat::kTable:
      return WriteTable(index, report, out);
    case ReportFormat::kJson:
      return WriteJson(index, report, out);
    case ReportFormat::kDot:
      return WriteDot(index, report, out);
  }
}

void WriteExplanationText(const PairExplanation& e, std::ostream& out) {
  out << e.host << " -> " << e.instance << " " << access::EndpointKindName(e.kind) << " endpoint ("
      << e.hostname << "): "
      << (e.outcome.allowed() ? "allowed" : "denied at " + std::string(StepName(e.outcome.step)))
      << "\n";
  for (const StepExplanation& step : e.steps) {
    std::string name(StepName(step.step));
    std::string state(StepStateName(step.state));
    std::string line = "  " + name + std::string(14 - name.size(), ' ') + state;
    if (!step.detail.empty()) line += std::string(9 - state.size(), ' ') + step.detail;
    out << line << "\n";
  }
}

void WriteExplanationJson(const PairExplanation& e, std::ostream& out) {
  Json object = RowJson(e);
  object["hostname"] = e.hostname;
  Json steps = Json::array();
  for (const StepExplanation& step : e.steps) {
    steps.push_back({{"step", std::string(StepName(step.step))},
                     {"state", std::string(StepStateName(step.state))},
                     {"detail", step.detail}});
  }
  object["steps"] = std::move(steps);
  out << object.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

}  // namespace kura::analyzer
