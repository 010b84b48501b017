#include "cli/admin_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kura::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

AdminClient::AdminClient(const std::string& server, std::string token) : token_(std::move(token)) {
  constexpr std::string_view kScheme = "http://";
  if (server.rfind(kScheme, 0) != 0) {
    throw CommandError("--server must look like http://HOST:PORT, got '" + server + "'");
  }
  std::string rest = server.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || rest.find('/') != std::string::npos) {
    throw CommandError("--server must look like http://HOST:PORT, got '" + server + "'");
  }
  host_ = rest.substr(0, colon);
  if (host_.size() > 2 && host_.front() == '[') host_ = host_.substr(1, host_.size() - 2);
  port_ = rest.substr(colon + 1);
  if (token_.empty()) throw CommandError("an admin token is needed: --token or KURA_TOKEN");
}

nlohmann::json AdminClient::Call(const std::string& method, const std::string& path,
                                 const nlohmann::json& body) const {
  asio::io_context io;
  beast::tcp_stream stream(io);
  http::response<http::string_body> res;
  try {
    asio::ip::tcp::resolver resolver(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(host_, port_));
    http::request<http::string_body> req{http::string_to_verb(method), path, 11};
    req.set(http::field::host, host_ + ":" + port_);
    req.set(http::field::authorization, "Bearer " + token_);
    req.set(http::field::user_agent, "kura-cli");
    if (!body.is_null()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body.dump();
    }
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(stream, buffer, parser);
    res = parser.release();
  } catch (const boost::system::system_error& e) {
    throw CommandError("cannot reach the admin API at " + host_ + ":" + port_ + ": " +
                       e.code().message());
  }
  auto answer = nlohmann::json::parse(res.body(), nullptr, false);
  if (res.result_int() / 100 != 2) {
    if (!answer.is_discarded() && answer.contains("error")) {
      throw CommandError(answer["error"].get<std::string>());
    }
    throw CommandError("the admin API answered " + std::to_string(res.result_int()));
  }
  if (answer.is_discarded()) throw CommandError("the admin API answered something not JSON");
  return answer;
}

}  // namespace kura::cli
