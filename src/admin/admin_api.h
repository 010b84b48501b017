// The admin REST API (JSON over HTTP, on its own listener). Each call carries
// `Authorization: Bearer <account token>` and acts as that account: an account sees and changes
// only its own networks and instances ("same account" in EXPOSURE.md). Every change goes through
// the World's operations, so the rules of EXPOSURE.md hold here exactly as they hold anywhere.
//
//   GET    /api/v1/whoami
//   GET    /api/v1/networks                          POST {id, region, cidrs[]}
//   POST   /api/v1/subnets                           {id, network, cidr}
//   GET    /api/v1/instances                         POST {name, region, edition}
//   GET    /api/v1/instances/N                       DELETE /api/v1/instances/N
//   POST   /api/v1/instances/N/internet/enable       POST /api/v1/instances/N/internet/disable
//   POST   /api/v1/instances/N/internet/allowlist    {cidr, description}
//   PUT    /api/v1/instances/N/internet/allowlist    {entries: [{cidr, description}]}
//   DELETE /api/v1/instances/N/internet/allowlist?cidr=C
//   POST   /api/v1/instances/N/vpc/bindings          {network, subnet?}
//   DELETE /api/v1/instances/N/vpc/bindings/NETWORK
//   GET    /api/v1/instances/N/credentials           PUT /api/v1/instances/N/credentials/USER {password}
//   POST   /api/v1/instances/N/tokens                {user, ttl_seconds}
//   GET    /api/v1/instances/N/namespaces            POST {name, visibility: public|private}
//
// Errors are {"error": "one line with the reason"} with 400 (bad input), 401 (no or unknown
// token), 404 (unknown, or another account's), 409 (exists, no free address), 403 (a rule of
// EXPOSURE.md refuses it).
#pragma once

#include <map>
#include <string>

#include "admin/exposure_state.h"
#include "registry/exchange.h"
#include "store/admin_store.h"
#include "store/meta_store.h"

namespace kura::admin {

class AdminApi {
 public:
  // `tokens` maps each account's admin token to its account id. All must outlive the API.
  AdminApi(ExposureState& exposure, store::AdminStore& store, store::MetaStore& registry,
           std::map<std::string, std::string> tokens);

  boost::asio::awaitable<registry::Response> Handle(registry::Request& req);

  // The JSON description of an instance and its endpoints, as GET /api/v1/instances/N answers.
  static std::string DescribeInstance(const access::World& world, const access::Instance& i);

 private:
  struct Call;
  registry::Response Route(Call& call);

  ExposureState& exposure_;
  store::AdminStore& store_;
  store::MetaStore& registry_;  // an instance's repositories go with it
  std::map<std::string, std::string> tokens_;
};

}  // namespace kura::admin
