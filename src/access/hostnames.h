// Endpoint hostnames: building them, and reading a Host header back into (instance, region, kind).
//
//   Internet endpoint  <instance>-registry.<region>.<domain>
//   VPC endpoint       <instance>-registry-vpc.<region>.<domain>
//
// The two forms cannot be confused: a first label ending in "-registry-vpc" never ends in
// "-registry", so every hostname names at most one endpoint, whatever the instance is called.
// Hostnames are case-insensitive; parsing lower-cases them.

#ifndef KURA_ACCESS_HOSTNAMES_H_
#define KURA_ACCESS_HOSTNAMES_H_

#include <optional>
#include <string>
#include <string_view>

#include "access/endpoint_kind.h"

namespace kura::access {

// The longest instance name: its VPC hostname's first label must fit in 63 characters.
inline constexpr size_t kMaxInstanceNameLength = 63 - 13;  // 13 == size of "-registry-vpc"

// An instance name: 1..50 of [a-z0-9-], starting with a letter, not ending with '-'.
bool IsValidInstanceName(std::string_view name);
// A region id: one DNS label, 1..63 of [a-z0-9-], not starting or ending with '-'.
bool IsValidRegionId(std::string_view region);
// A domain: one or more region-id-like labels joined by '.', at most 253 characters.
bool IsValidDomain(std::string_view domain);

// name with A-Z lowered: DNS names compare case-insensitively, kura keeps them lower-case.
std::string LowerCaseName(std::string_view name);

// The hostname of an endpoint. The arguments must be valid (see above); they are used as given.
std::string EndpointHostname(std::string_view instance, std::string_view region, EndpointKind kind,
                             std::string_view domain);

// What a hostname names.
struct EndpointAddress {
  std::string instance;
  std::string region;
  EndpointKind kind = EndpointKind::kInternet;

  friend bool operator==(const EndpointAddress&, const EndpointAddress&) = default;
};

// Parses the value of a Host header ("acme-registry.ap-northeast-1.kura.test:5000") under domain.
// Accepts any letter case, an optional ":port" (1..65535) and one trailing '.'. Returns nullopt
// and, if error is not null, one line saying why, for anything else: an IP literal, another
// domain, a first label that names no endpoint, a missing region, an invalid instance name.
// Whether the instance exists, and lives in that region, is the caller's question
// (World::FindInstanceByHost).
std::optional<EndpointAddress> ParseEndpointHost(std::string_view host, std::string_view domain,
                                                 std::string* error = nullptr);

// ParseEndpointHost for the request path, which copies nothing: the names are views into host,
// or, when host is not lower-case, into *lowered, which then holds it lower-cased. Valid while
// both are.
struct EndpointAddressView {
  std::string_view instance;
  std::string_view region;
  EndpointKind kind = EndpointKind::kInternet;
};
std::optional<EndpointAddressView> ParseEndpointHostView(std::string_view host,
                                                         std::string_view domain,
                                                         std::string* lowered,
                                                         std::string* error = nullptr);

}  // namespace kura::access

#endif  // KURA_ACCESS_HOSTNAMES_H_
