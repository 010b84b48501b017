#include "access/hostnames.h"

#include <algorithm>
#include <charconv>
#include <cstddef>

namespace kura::access {
namespace {

constexpr std::string_view kInternetSuffix = "-registry";
constexpr std::string_view kVpcSuffix = "-registry-vpc";

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool IsLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(),
                     [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

std::optional<EndpointAddress> Fail(std::string* error, std::string_view host,
                                    std::string_view why) {
  if (error != nullptr) {
    *error = "host \"";
    error->append(host);
    error->append("\" ");
    error->append(why);
  }
  return std::nullopt;
}

}  // namespace

std::string LowerCaseName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsValidInstanceName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxInstanceNameLength && name.front() >= 'a' &&
         name.front() <= 'z' && IsLabel(name);
}

bool IsValidRegionId(std::string_view region) {
  return IsLabel(region);
}

bool IsValidDomain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  size_t pos = 0;
  while (true) {
    size_t dot = domain.find('.', pos);
    if (!IsLabel(domain.substr(pos, dot == std::string_view::npos ? dot : dot - pos))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    pos = dot + 1;
  }
}

std::string EndpointHostname(std::string_view instance, std::string_view region, EndpointKind kind,
                             std::string_view domain) {
  std::string name(instance);
  name += kind == EndpointKind::kVpc ? kVpcSuffix : kInternetSuffix;
  name += '.';
  name += region;
  name += '.';
  name += domain;
  return name;
}

std::optional<EndpointAddressView> ParseEndpointHostView(std::string_view host,
                                                         std::string_view domain,
                                                         std::string* lowered, std::string* error) {
  auto fail = [&](std::string_view why) -> std::optional<EndpointAddressView> {
    Fail(error, host, why);
    return std::nullopt;
  };
  if (host.empty()) return fail("is empty");
  if (host.front() == '[' || std::count(host.begin(), host.end(), ':') > 1) {
    return fail("is an IP literal, not an endpoint hostname");
  }
  std::string_view name = host;
  if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    std::string_view port = host.substr(colon + 1);
    const bool digits = !port.empty() && port.size() <= 5 &&
                        port.find_first_not_of("0123456789") == std::string_view::npos;
    int number = 0;
    if (digits) std::from_chars(port.data(), port.data() + port.size(), number);
    if (!digits || number < 1 || number > 65535) return fail("has an invalid port");
    name = host.substr(0, colon);
  }
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  // Hosts come lower-case nearly always: then the views are into host, and nothing is copied.
  if (std::any_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    *lowered = LowerCaseName(name);
    name = *lowered;
  }
  // name ends in "." + domain, any letter case in domain.
  const bool under =
      name.size() > domain.size() + 1 && name[name.size() - domain.size() - 1] == '.' &&
      std::equal(domain.begin(), domain.end(), name.end() - static_cast<ptrdiff_t>(domain.size()),
                 [](char d, char n) { return (d >= 'A' && d <= 'Z' ? d - 'A' + 'a' : d) == n; });
  if (!under) return fail("is not under domain " + LowerCaseName(domain));
  std::string_view rest = name.substr(0, name.size() - domain.size() - 1);
  size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return fail("has no region label");
  std::string_view label = rest.substr(0, dot);
  std::string_view region = rest.substr(dot + 1);
  if (!IsValidRegionId(region)) {
    return fail("has an invalid region \"" + std::string(region) + "\"");
  }

  EndpointAddressView address;
  address.region = region;
  if (label.ends_with(kVpcSuffix)) {
    address.kind = EndpointKind::kVpc;
    label.remove_suffix(kVpcSuffix.size());
  } else if (label.ends_with(kInternetSuffix)) {
    address.kind = EndpointKind::kInternet;
    label.remove_suffix(kInternetSuffix.size());
  } else {
    return fail("names no endpoint: its first label ends in neither -registry nor -registry-vpc");
  }
  if (!IsValidInstanceName(label)) {
    return fail("has an invalid instance name \"" + std::string(label) + "\"");
  }
  address.instance = label;
  return address;
}

std::optional<EndpointAddress> ParseEndpointHost(std::string_view host, std::string_view domain,
                                                 std::string* error) {
  std::string lowered;
  std::optional<EndpointAddressView> view = ParseEndpointHostView(host, domain, &lowered, error);
  if (!view) return std::nullopt;
  return EndpointAddress{std::string(view->instance), std::string(view->region), view->kind};
}

}  // namespace kura::access
