// libFuzzer target: the PROXY protocol parser must never crash, must agree with itself on
// prefixes and extensions of its input, and must read back what the builders write.
//
// The first input byte picks a prefix so the fuzzer need not discover the signatures: 0 none,
// 1 the v2 signature and version 2, 2 "PROXY ".
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/proxy_protocol.h"

namespace {

using kura::server::BuildProxyV1;
using kura::server::BuildProxyV2;
using kura::server::ParseProxyHeader;
using kura::server::ProxyHeader;
using kura::server::ProxyParse;
using kura::server::ProxyParseResult;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

bool Same(const ProxyParseResult& a, const ProxyParseResult& b) {
  return a.state == b.state && a.consumed == b.consumed && a.header == b.header &&
         a.error == b.error;
}

bool NamesVpc(const ProxyHeader& header) {
  for (const auto& [type, value] : header.tlvs) {
    if ((type == kura::server::kProxyTlvAws || type == kura::server::kProxyTlvAlibaba) &&
        value.size() > 1 && value[0] == 0x01 && value.substr(1) == *header.vpc_id) {
      return true;
    }
  }
  return false;
}

void CheckDone(std::string_view in, const ProxyParseResult& result) {
  const ProxyHeader& header = result.header;
  Check(result.consumed > 0 && result.consumed <= in.size());
  Check(result.consumed <= kura::server::kMaxProxyV2Size);
  Check(result.error.empty());
  // The header alone parses the same; any shorter prefix is incomplete.
  Check(Same(ParseProxyHeader(in.substr(0, result.consumed)), result));
  Check(ParseProxyHeader(in.substr(0, result.consumed - 1)).state == ProxyParse::kNeedMore);
  Check(ParseProxyHeader(in.substr(0, result.consumed / 2)).state == ProxyParse::kNeedMore);
  // Shape of the header.
  if (header.local) {
    Check(!header.source && !header.destination);
    Check(header.source_port == 0 && header.destination_port == 0);
  } else {
    Check(header.source && header.destination);
    Check(header.source->family() == header.destination->family());
  }
  if (header.vpc_id) Check(NamesVpc(header));
  // What the builders write for this header reads back the same.
  bool v2 = in[0] == '\r';
  if (v2 && !header.local) {
    std::string built = BuildProxyV2(header);
    Check(built.size() == result.consumed);
    ProxyParseResult again = ParseProxyHeader(built);
    Check(again.state == ProxyParse::kDone && again.header == header);
  }
  if (!v2) {
    Check(header.tlvs.empty() && !header.vpc_id);
    ProxyParseResult again = ParseProxyHeader(BuildProxyV1(header));
    Check(again.state == ProxyParse::kDone && again.header == header);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string in;
  switch (data[0] % 3) {
    case 1:
      in = std::string(kura::server::kProxyV2Signature) + "\x21";
      break;
    case 2:
      in = "PROXY ";
      break;
  }
  in.append(reinterpret_cast<const char*>(data) + 1, size - 1);

  ProxyParseResult result = ParseProxyHeader(in);
  switch (result.state) {
    case ProxyParse::kDone:
      CheckDone(in, result);
      break;
    case ProxyParse::kNeedMore:
      Check(result.consumed == 0 && result.error.empty() && result.header == ProxyHeader());
      Check(in.size() < kura::server::kMaxProxyV2Size);
      break;
    case ProxyParse::kInvalid:
      Check(result.consumed == 0 && !result.error.empty());
      Check(result.error.find('\n') == std::string::npos);
      // Refusal is final: more bytes never make it acceptable.
      Check(ParseProxyHeader(in + "\r\n").state == ProxyParse::kInvalid);
      Check(ParseProxyHeader(in + std::string(64, '\0')).state == ProxyParse::kInvalid);
      break;
  }
  return 0;
}
