#include "server/audit_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "test_paths.h"

namespace kura::server {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = kura::testing::ScratchPath("audit", ".log");
    std::filesystem::remove(path_);
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::vector<std::string> Lines() const {
    std::ifstream in(path_);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  std::filesystem::path path_;
};

TEST_F(AuditLogTest, LinesFromManyThreadsArriveWholeAndAllOfThem) {
  constexpr int kThreads = 4;
  constexpr int kLinesEach = 2000;
  {
    AuditLog log(path_.string());
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&log, t] {
        for (int i = 0; i < kLinesEach; ++i) {
          log.Write("{\"thread\":" + std::to_string(t) + ",\"n\":" + std::to_string(i) + "}\n");
        }
      });
    }
    for (auto& w : writers) w.join();
  }  // a clean stop writes out what is still queued
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLinesEach));
  std::map<int, int> next;  // per thread, lines keep their order
  for (const std::string& line : lines) {
    int t = -1, n = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "{\"thread\":%d,\"n\":%d}", &t, &n), 2) << line;
    EXPECT_EQ(n, next[t]) << line;
    next[t] = n + 1;
  }
}

TEST_F(AuditLogTest, ALineReachesTheFileWithoutAStop) {
  AuditLog log(path_.string());
  log.Write("{\"one\":1}\n");
  // The writer thread gathers for a few milliseconds; a second is far more than it needs.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (Lines().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(Lines(), std::vector<std::string>{"{\"one\":1}"});
}

TEST_F(AuditLogTest, UnwritablePathIsRefusedAtOnce) {
  EXPECT_THROW(AuditLog("/nonexistent-dir/audit.log"), std::runtime_error);
}

}  // namespace
}  // namespace kura::server
