#include "cli/scope_command.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>

#include "analyzer/analyzer.h"
#include "analyzer/explain.h"
#include "analyzer/report_writer.h"
#include "analyzer/topology_index.h"
#include "topology/large_topology.h"
#include "topology/topology.h"

namespace kura::cli {
namespace {

struct ScopeOptions {
  std::string file;
  std::string format = "table";
  std::string explain_format = "text";
  std::string host;
  std::string instance;
  std::string endpoint;
  unsigned threads = 0;
  size_t hosts = 10000;
  size_t instances = 1000;
};

// Prints "kura scope: <message>" and ends the command with status 1.
[[noreturn]] void Fail(const std::string& message) {
  std::cout.flush();
  std::cerr << "kura scope: " << message << "\n";
  throw CLI::RuntimeError(1);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string Fixed(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

void RunAnalyze(const ScopeOptions& options) {
  std::optional<analyzer::ReportFormat> format = analyzer::ParseReportFormat(options.format);
  if (!format) Fail("unknown format \"" + options.format + "\" (table, json or dot)");
  try {
    topology::Topology topology = topology::LoadTopology(options.file);
    analyzer::ExposureReport report = analyzer::Analyze(topology, {options.threads});
    analyzer::TopologyIndex index(topology);
    analyzer::WriteReport(index, report, *format, std::cout);
  } catch (const topology::TopologyError& e) {
    Fail(e.what());
  }
}

void RunExplain(const ScopeOptions& options) {
  if (options.explain_format != "text" && options.explain_format != "json") {
    Fail("unknown format \"" + options.explain_format + "\" (text or json)");
  }
  try {
    topology::Topology topology = topology::LoadTopology(options.file);
    analyzer::TopologyIndex index(topology);
    analyzer::PairExplanation explanation =
        analyzer::Explain(index, options.host, options.instance, options.endpoint);
    if (options.explain_format == "json") {
      analyzer::WriteExplanationJson(explanation, std::cout);
    } else {
      analyzer::WriteExplanationText(explanation, std::cout);
    }
  } catch (const topology::TopologyError& e) {
    Fail(e.what());
  } catch (const std::invalid_argument& e) {
    Fail(options.file + ": " + e.what());
  }
}

void RunGenerate(const ScopeOptions& options) {
  try {
    std::cout << topology::GenerateLargeTopology(options.hosts, options.instances);
  } catch (const std::invalid_argument& e) {
    Fail(e.what());
  }
}

void RunBench(const ScopeOptions& options) {
  std::string text;
  try {
    auto start = std::chrono::steady_clock::now();
    text = topology::GenerateLargeTopology(options.hosts, options.instances);
    std::cout << "generate  " << options.hosts << " hosts, " << options.instances << " instances, "
              << Fixed(text.size() / 1e6, 1) << " MB of YAML in " << Fixed(SecondsSince(start), 3)
              << " s\n";

    start = std::chrono::steady_clock::now();
    topology::Topology topology = topology::ParseTopology(text, "generated");
    std::cout << "load      " << topology.world.networks().size() << " networks, "
              << topology.world.transit_networks().size() << " transit networks, "
              << topology.world.zones().size() << " private zones in "
              << Fixed(SecondsSince(start), 3) << " s\n";

    const unsigned threads =
        options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    start = std::chrono::steady_clock::now();
    analyzer::ExposureReport report = analyzer::Analyze(topology, {threads});
    const double seconds = SecondsSince(start);
    std::cout << "analyze   " << report.pair_count() << " host-endpoint pairs in "
              << Fixed(seconds, 3) << " s with " << threads << " thread"
              << (threads == 1 ? "" : "s") << " (" << Fixed(report.pair_count() / seconds / 1e6, 1)
              << " M pairs/s), " << report.allowed_count() << " allowed\n";
  } catch (const topology::TopologyError& e) {
    Fail(e.what());
  } catch (const std::invalid_argument& e) {
    Fail(e.what());
  }
}

}  // namespace

std::shared_ptr<void> AddScopeCommand(CLI::App& app) {
  auto options = std::make_shared<ScopeOptions>();
  CLI::App* scope =
      app.add_subcommand("scope", "Who reaches which endpoint: analyze a topology file");
  scope->require_subcommand(1);

  CLI::App* analyze = scope->add_subcommand(
      "analyze", "For every host and endpoint: allowed, or denied at the first failing step");
  analyze->add_option("file", options->file, "Topology file (YAML)")->required();
  analyze->add_option("--format", options->format, "table (default), json or dot")
      ->check(CLI::IsMember({"table", "json", "dot"}));
  analyze->add_option("--threads", options->threads, "Worker threads (default: one per core)");
  analyze->callback([options] { RunAnalyze(*options); });

  CLI::App* explain = scope->add_subcommand("explain", "The whole chain for one host and endpoint");
  explain->add_option("file", options->file, "Topology file (YAML)")->required();
  explain->add_option("host", options->host, "Host id")->required();
  explain->add_option("instance", options->instance, "Instance name")->required();
  explain->add_option("endpoint", options->endpoint, "internet or vpc")->required();
  explain->add_option("--format", options->explain_format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  explain->callback([options] { RunExplain(*options); });

  CLI::App* generate =
      scope->add_subcommand("generate", "Print a large made-up topology file (for benchmarks)");
  generate->add_option("--hosts", options->hosts, "Hosts (default 10000)");
  generate->add_option("--instances", options->instances, "Instances (default 1000)");
  generate->callback([options] { RunGenerate(*options); });

  CLI::App* bench =
      scope->add_subcommand("bench", "Time loading and analyzing a generated topology");
  bench->add_option("--hosts", options->hosts, "Hosts (default 10000)");
  bench->add_option("--instances", options->instances, "Instances (default 1000)");
  bench->add_option("--threads", options->threads, "Worker threads (default: one per core)");
  bench->callback([options] { RunBench(*options); });

  return options;
}

}  // namespace kura::cli
