// The two kinds of endpoint every instance has (EXPOSURE.md, "Editions and endpoints").

#ifndef KURA_ACCESS_ENDPOINT_KIND_H_
#define KURA_ACCESS_ENDPOINT_KIND_H_

#include <string_view>

namespace kura::access {

enum class EndpointKind {
  kInternet,  // <instance>-registry.<region>.<domain>, reached over public addresses
  kVpc,       // <instance>-registry-vpc.<region>.<domain>, reached over private networks
};

// "internet" or "vpc".
constexpr std::string_view EndpointKindName(EndpointKind kind) {
  return kind == EndpointKind::kInternet ? "internet" : "vpc";
}

}  // namespace kura::access

#endif  // KURA_ACCESS_ENDPOINT_KIND_H_
