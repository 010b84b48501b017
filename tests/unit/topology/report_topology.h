// The world of the field report as topology YAML, for the tests (see
// tests/unit/access/report_world.h for the same world built by hand):
//
//              account A                          account B
//   region     ap-northeast-1 (Tokyo)             ap-southeast-1 (Singapore)
//   network    vpc-a 192.168.0.0/16               vpc-b 10.0.0.0/8
//   subnet     vsw-a 192.168.0.0/24               vsw-b 10.0.0.0/24
//   host       ecs-a 192.168.0.1, 198.51.100.10   ecs-b 10.0.0.1, 203.0.113.20
//
// A test appends the sections it needs (instances, transit_networks, private_zones...).

#ifndef KURA_TESTS_UNIT_TOPOLOGY_REPORT_TOPOLOGY_H_
#define KURA_TESTS_UNIT_TOPOLOGY_REPORT_TOPOLOGY_H_

#include <string>

namespace kura::topology::testing {

inline const std::string kReportWorldYaml = R"(domain: kura.test
accounts:
  - {id: A, name: account A}
  - {id: B, name: account B}
regions:
  - {id: ap-northeast-1, name: Tokyo}
  - {id: ap-southeast-1, name: Singapore}
networks:
  - id: vpc-a
    account: A
    region: ap-northeast-1
    cidrs: [192.168.0.0/16]
    subnets:
      - {id: vsw-a, cidr: 192.168.0.0/24}
  - id: vpc-b
    account: B
    region: ap-southeast-1
    cidrs: [10.0.0.0/8]
    subnets:
      - {id: vsw-b, cidr: 10.0.0.0/24}
hosts:
  - {id: ecs-a, network: vpc-a, private_ip: 192.168.0.1, public_ip: 198.51.100.10}
  - {id: ecs-b, network: vpc-b, private_ip: 10.0.0.1, public_ip: 203.0.113.20}
)";

// Instance acme of account A in Tokyo, of the given edition, with user dev / registry-pass, and
// `more` appended inside its mapping (indented by four spaces).
inline std::string AcmeYaml(const std::string& edition, const std::string& more = "") {
  return "instances:\n"
         "  - name: acme\n"
         "    account: A\n"
         "    region: ap-northeast-1\n"
         "    edition: " +
         edition + "\n" + more +
         "    credentials:\n"
         "      - {user: dev, password: registry-pass}\n";
}

}  // namespace kura::topology::testing

#endif  // KURA_TESTS_UNIT_TOPOLOGY_REPORT_TOPOLOGY_H_
