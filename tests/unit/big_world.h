// A World of many enterprise instances, for the tests of start-up on a World of thousands of
// rows: account "A", region "r1", instances "i0".."i<n-1>" (incarnation "inc" + name), each with
// an allowlist of 10 addresses: instance i has 10.<i / 250>.<i % 250>.0 to .9.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "access/world.h"
#include "core/cidr.h"

namespace kura::testing {

// The allowlist row key of entry k of instance i, as world_rows.cc writes it.
inline std::string BigWorldAllowKey(int i, int k) {
  return "i" + std::to_string(i) + " 10." + std::to_string(i / 250) + "." +
         std::to_string(i % 250) + "." + std::to_string(k) + "/32";
}

// Throws std::runtime_error when the World refuses a step (it never should).
inline access::World BigWorld(int instances) {
  auto check = [](const access::Status& s) {
    if (!s.ok()) throw std::runtime_error("BigWorld: " + s.message());
  };
  access::World world("kura.test");
  check(world.AddAccount({"A", "A"}));
  check(world.AddRegion({"r1", "r1"}));
  for (int i = 0; i < instances; ++i) {
    const std::string name = "i" + std::to_string(i);
    check(world.CreateInstance(name, "A", "r1", access::Edition::kEnterprise, "inc" + name));
    std::vector<access::AllowlistEntry> entries;
    for (int k = 0; k < 10; ++k) {
      entries.push_back({*core::Cidr::Parse("10." + std::to_string(i / 250) + "." +
                                            std::to_string(i % 250) + "." + std::to_string(k)),
                         "e"});
    }
    check(world.ReplaceAllowlist(name, entries));
  }
  return world;
}

}  // namespace kura::testing
