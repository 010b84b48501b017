#include "access/hostnames.h"

#include <algorithm>

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

std::optional<EndpointAddress> ParseEndpointHost(std::string_view host, std::string_view domain,
                                                 std::string* error) {
  if (host.empty()) return Fail(error, host, "is empty");
  if (host.front() == '[' || std::count(host.begin(), host.end(), ':') > 1) {
    return Fail(error, host, "is an IP literal, not an endpoint hostname");
  }
  std::string_view name = host;
  if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    std::string_view port = host.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) {
      return Fail(error, host, "has an invalid port");
    }
    name = host.substr(0, colon);
  }
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  const std::string lower = LowerCaseName(name);
  const std::string suffix = "." + LowerCaseName(domain);
  if (lower.size() <= suffix.size() || !lower.ends_with(suffix)) {
    return Fail(error, host, "is not under domain " + LowerCaseName(domain));
  }
  std::string_view rest = std::string_view(lower).substr(0, lower.size() - suffix.size());
  size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return Fail(error, host, "has no region label");
  std::string_view label = rest.substr(0, dot);
  std::string_view region = rest.substr(dot + 1);
  if (!IsValidRegionId(region)) {
    return Fail(error, host, "has an invalid region \"" + std::string(region) + "\"");
  }

  EndpointAddress address;
  address.region = std::string(region);
  if (label.ends_with(kVpcSuffix)) {
    address.kind = EndpointKind::kVpc;
    label.remove_suffix(kVpcSuffix.size());
  } else if (label.ends_with(kInternetSuffix)) {
    address.kind = EndpointKind::kInternet;
    label.remove_suffix(kInternetSuffix.size());
  } else {
    return Fail(error, host,
                "names no endpoint: its first label ends in neither -registry nor -registry-vpc");
  }
  if (!IsValidInstanceName(label)) {
    return Fail(error, host, "has an invalid instance name \"" + std::string(label) + "\"");
  }
  address.instance = std::string(label);
  return address;
}

}  // namespace kura::access
