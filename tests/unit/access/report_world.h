// The world of the field report (EXPOSURE.md, "The world the report built"), for the tests:
//
//              account A                          account B
//   region     ap-northeast-1 (Tokyo)             ap-southeast-1 (Singapore)
//   network    vpc-a 192.168.0.0/16               vpc-b 10.0.0.0/8
//   subnet     vsw-a 192.168.0.0/24               vsw-b 10.0.0.0/24
//   host       ecs-a 192.168.0.1, 198.51.100.10   ecs-b 10.0.0.1, 203.0.113.20
//
// and an instance "acme" of account A in Tokyo, of the edition asked for.

#ifndef KURA_TESTS_UNIT_ACCESS_REPORT_WORLD_H_
#define KURA_TESTS_UNIT_ACCESS_REPORT_WORLD_H_

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "access/policy.h"
#include "access/world.h"
#include "core/cidr.h"

namespace kura::access::testing {

inline constexpr std::string_view kDomain = "kura.test";
inline constexpr std::string_view kTokyo = "ap-northeast-1";
inline constexpr std::string_view kSingapore = "ap-southeast-1";

inline core::IpAddress Ip(std::string_view text) {
  std::optional<core::IpAddress> address = core::IpAddress::Parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(core::IpAddress());
}

inline core::Cidr Cidr(std::string_view text) {
  std::optional<core::Cidr> cidr = core::Cidr::Parse(text);
  EXPECT_TRUE(cidr.has_value()) << text;
  return cidr.value_or(core::Cidr());
}

// The network of this id in world (the tests give every network a distinct id), or one of no
// account when there is none (for the refusals of unknown networks).
inline NetworkKey Net(const World& world, std::string_view id) {
  for (const auto& [key, network] : world.networks()) {
    if (key.id == id) return key;
  }
  return {"", std::string(id)};
}

// Fails the current test if status is not ok.
inline void Check(const Status& status) {
  ASSERT_TRUE(status.ok()) << status.message();
}

// The report's world without any instance.
inline World ReportWorldWithoutInstance() {
  World world{std::string(kDomain)};
  Check(world.AddAccount({"A", "account A"}));
  Check(world.AddAccount({"B", "account B"}));
  Check(world.AddRegion({std::string(kTokyo), "Tokyo"}));
  Check(world.AddRegion({std::string(kSingapore), "Singapore"}));
  Check(world.AddNetwork({"vpc-a", "A", std::string(kTokyo), {Cidr("192.168.0.0/16")}}));
  Check(world.AddNetwork({"vpc-b", "B", std::string(kSingapore), {Cidr("10.0.0.0/8")}}));
  Check(world.AddSubnet({"vsw-a", {"A", "vpc-a"}, Cidr("192.168.0.0/24")}));
  Check(world.AddSubnet({"vsw-b", {"B", "vpc-b"}, Cidr("10.0.0.0/24")}));
  Check(world.AddHost({"ecs-a", "vsw-a", Ip("192.168.0.1"), Ip("198.51.100.10")}));
  Check(world.AddHost({"ecs-b", "vsw-b", Ip("10.0.0.1"), Ip("203.0.113.20")}));
  return world;
}

// The report's world with instance "acme" of account A in Tokyo.
inline World ReportWorld(Edition edition) {
  World world = ReportWorldWithoutInstance();
  Check(world.CreateInstance("acme", "A", std::string(kTokyo), edition));
  return world;
}

// A connection from host straight to an endpoint, as in the report's tests (no transit
// network): to the Internet endpoint from the host's public address; to the VPC endpoint from its
// private address, arriving through its own network.
inline ConnectionContext FromHost(const World& world, std::string_view host_id, EndpointKind kind) {
  const Host* host = world.FindHost(host_id);
  EXPECT_NE(host, nullptr) << host_id;
  ConnectionContext context;
  context.kind = kind;
  if (kind == EndpointKind::kInternet) {
    context.source = *host->public_ip;
  } else {
    context.source = host->private_ip;
    context.arrival_network = world.ArrivalThrough(world.FindSubnet(host->subnet)->network);
  }
  return context;
}

}  // namespace kura::access::testing

#endif  // KURA_TESTS_UNIT_ACCESS_REPORT_WORLD_H_
