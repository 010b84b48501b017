// Scratch files for unit tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace kura::testing {

// A path under the temporary directory that no other test, and no other run of the tests, uses:
// "<tmp>/kura-<what>-<pid>-<test name><suffix>". Nothing is created.
inline std::filesystem::path ScratchPath(std::string_view what, std::string_view suffix = "") {
  std::string name = "kura-" + std::string(what) + "-" + std::to_string(::getpid()) + "-" +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                     std::string(suffix);
  return std::filesystem::temp_directory_path() / name;
}

}  // namespace kura::testing
