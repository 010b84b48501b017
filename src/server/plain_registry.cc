#include "server/plain_registry.h"

#include "store/meta_store.h"

namespace kura::server {

namespace http = boost::beast::http;

PlainRegistryHandler::PlainRegistryHandler(registry::Registry& registry,
                                           const auth::HtpasswdFile* users, std::string realm)
    : registry_(registry), users_(users), realm_(std::move(realm)) {}

boost::asio::awaitable<registry::Response> PlainRegistryHandler::Handle(registry::Request& req,
                                                                        const Peer&) {
  req.instance = std::string(store::kPlainRegistryKey);
  if (users_) {
    auto creds = auth::ParseBasicAuthorization(req.header[http::field::authorization]);
    if (!creds || !users_->Verify(creds->user, creds->password)) {
      registry::Response r = registry::ErrorResponse(
          core::RegistryError(core::ErrorCode::kUnauthorized, "authentication required"));
      r.fields.set(http::field::www_authenticate, "Basic realm=\"" + realm_ + "\"");
      co_return r;
    }
    req.user = creds->user;
  }
  co_return co_await registry_.Handle(req);
}

}  // namespace kura::server
