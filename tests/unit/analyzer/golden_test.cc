// The shipped examples against their expected analyses:
//  - `kura scope analyze --format json` of every examples/*.yaml equals tests/golden/*.json
//    (regenerate with KURA_UPDATE_GOLDEN=1, then check the diff by hand);
//  - every cell of every table of EXPOSURE.md, written out here by hand, holds in the analysis
//    of its example.
// The source tree is $KURA_SOURCE_DIR, or the first parent of the working directory holding
// examples/ and tests/golden/.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "analyzer/analyzer.h"
#include "analyzer/report_writer.h"
#include "analyzer/topology_index.h"
#include "topology/topology.h"

namespace kura::analyzer {
namespace {

namespace fs = std::filesystem;

fs::path SourceDir() {
  if (const char* dir = std::getenv("KURA_SOURCE_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  for (fs::path dir = fs::current_path(); !dir.empty(); dir = dir.parent_path()) {
    if (fs::is_directory(dir / "examples") && fs::is_directory(dir / "tests" / "golden")) {
      return dir;
    }
    if (dir == dir.parent_path()) break;
  }
  return {};
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> ExampleNames() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(SourceDir() / "examples")) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string AnalyzeAsJson(const std::string& name) {
  topology::Topology t =
      topology::LoadTopology((SourceDir() / "examples" / (name + ".yaml")).string());
  ExposureReport report = Analyze(t);
  std::ostringstream json;
  WriteReport(TopologyIndex(t), report, ReportFormat::kJson, json);
  return json.str();
}

TEST(Golden, EveryExampleMatchesItsGoldenJson) {
  ASSERT_FALSE(SourceDir().empty()) << "set KURA_SOURCE_DIR to the source tree";
  const bool update = std::getenv("KURA_UPDATE_GOLDEN") != nullptr;
  std::vector<std::string> names = ExampleNames();
  ASSERT_FALSE(names.empty());
  for (const std::string& name : names) {
    const fs::path golden = SourceDir() / "tests" / "golden" / (name + ".json");
    const std::string actual = AnalyzeAsJson(name);
    if (update) {
      std::ofstream(golden, std::ios::binary) << actual;
      continue;
    }
    ASSERT_TRUE(fs::exists(golden)) << golden << " is missing (KURA_UPDATE_GOLDEN=1 writes it)";
    EXPECT_EQ(actual, ReadFile(golden)) << "examples/" << name << ".yaml";
  }
  // No golden file without its example.
  for (const auto& entry : fs::directory_iterator(SourceDir() / "tests" / "golden")) {
    const std::string stem = entry.path().stem().string();
    EXPECT_TRUE(std::find(names.begin(), names.end(), stem) != names.end())
        << entry.path() << " has no example";
  }
}

// One cell of a table of EXPOSURE.md: host, endpoint, and the expected result ("allowed", or
// the step a denial stops at).
struct Cell {
  std::string host;
  std::string endpoint;
  std::string result;
};

// The tables of EXPOSURE.md, one example each. Where the table says only "denied", the step is
// this analyzer's reading of the report (see the examples' headers).
const std::map<std::string, std::vector<Cell>>& ExposureTables() {
  static const auto* tables = new std::map<std::string, std::vector<Cell>>{
      // Personal edition.
      {"personal",
       {{"ecs-a", "internet", "allowed"},
        {"ecs-a", "vpc", "allowed"},
        {"ecs-b", "internet", "allowed"},
        {"ecs-b", "vpc", "resolve"}}},
      // Enterprise edition: Internet endpoint, its four states.
      {"enterprise-internet-disabled",
       {{"ecs-a", "internet", "admit"}, {"ecs-b", "internet", "admit"}}},
      {"enterprise-internet-all",
       {{"ecs-a", "internet", "allowed"}, {"ecs-b", "internet", "allowed"}}},
      {"enterprise-internet-only-ecs-a",
       {{"ecs-a", "internet", "allowed"}, {"ecs-b", "internet", "admit"}}},
      {"enterprise-internet-only-ecs-b",
       {{"ecs-a", "internet", "admit"}, {"ecs-b", "internet", "allowed"}}},
      // Enterprise edition: VPC endpoint.
      {"enterprise-vpc-unbound", {{"ecs-a", "vpc", "resolve"}, {"ecs-b", "vpc", "resolve"}}},
      {"enterprise-vpc-bound-vpc-a", {{"ecs-a", "vpc", "allowed"}, {"ecs-b", "vpc", "resolve"}}},
      // Sharing the VPC endpoint: steps 1-3, then 4-5.
      {"sharing-transit", {{"ecs-a", "vpc", "allowed"}, {"ecs-b", "vpc", "resolve"}}},
      {"sharing-transit-dns", {{"ecs-a", "vpc", "allowed"}, {"ecs-b", "vpc", "allowed"}}},
  };
  return *tables;
}

TEST(Golden, TheTablesOfExposureMd) {
  ASSERT_FALSE(SourceDir().empty()) << "set KURA_SOURCE_DIR to the source tree";
  for (const auto& [name, cells] : ExposureTables()) {
    nlohmann::json rows = nlohmann::json::parse(AnalyzeAsJson(name));
    for (const Cell& cell : cells) {
      const nlohmann::json* found = nullptr;
      for (const nlohmann::json& row : rows) {
        if (row["host"] == cell.host && row["instance"] == "acme" &&
            row["endpoint"] == cell.endpoint) {
          found = &row;
        }
      }
      ASSERT_NE(found, nullptr) << name << " " << cell.host << " " << cell.endpoint;
      const std::string result =
          (*found)["allowed"].get<bool>() ? "allowed" : (*found)["step"].get<std::string>();
      EXPECT_EQ(result, cell.result) << name << ": " << cell.host << " -> " << cell.endpoint << ": "
                                     << (*found)["reason"].get<std::string>();
    }
  }
  // Every example is a scenario of the report.
  for (const std::string& name : ExampleNames()) {
    EXPECT_TRUE(ExposureTables().contains(name)) << "examples/" << name << ".yaml";
  }
}

}  // namespace
}  // namespace kura::analyzer
