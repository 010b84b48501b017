// One HTTP exchange as the registry handlers see it: the request header, a streaming body, and
// the response to send (a small body in memory, or a byte range of a blob file). The server owns
// the sockets; handlers never touch them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/errors.h"
#include "store/blob_store.h"

namespace kura::registry {

namespace asio = boost::asio;
namespace http = boost::beast::http;

// Thrown by BodyReader::Read when the body is cut short or the connection fails.
class BodyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The request body, read in pieces. Not thread-safe; one reader per request.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Reads up to `n` bytes into `buf`. Returns 0 once the whole body has been read.
  virtual asio::awaitable<size_t> Read(char* buf, size_t n) = 0;
  // The declared Content-Length, or nullopt for a chunked body.
  virtual std::optional<uint64_t> ContentLength() const = 0;
};

struct Request {
  const http::request_header<>& header;
  std::string path;   // percent-decoded, without the query
  std::string query;  // raw query string, without '?'
  BodyReader& body;
  std::string instance;  // the instance (tenant registry) the request is addressed to
  std::string user;      // the authenticated user, or empty

  http::verb method() const { return header.method(); }
  // The value of query parameter `key`, percent-decoded, or nullopt.
  std::optional<std::string> Query(std::string_view key) const;
  // Every value of query parameter `key` (e.g. several `scope=`), percent-decoded, in order.
  std::vector<std::string> QueryAll(std::string_view key) const;
};

struct Response {
  http::status status = http::status::ok;
  http::fields fields;
  std::string body;
  // When set, the body is bytes [blob_offset, blob_offset + blob_length) of this blob.
  std::unique_ptr<store::BlobReader> blob;
  uint64_t blob_offset = 0;
  uint64_t blob_length = 0;
  // HEAD: announce this Content-Length but send no body. The server derives it for every HEAD
  // answer that lacks it (from the body or file, which it then drops); a handler sets it only to
  // avoid making a body at all (a blob is not opened for a HEAD).
  std::optional<uint64_t> head_length;

  uint64_t ContentLength() const {
    return head_length ? *head_length : blob ? blob_length : body.size();
  }
};

// The response for an OCI error: its status and the JSON body. The one place errors become HTTP.
Response ErrorResponse(const core::RegistryError& error);

// Escapes every byte but unreserved characters (and '/' when `keep_slash`) as %XX.
std::string PercentEncode(std::string_view s, bool keep_slash = false);

// Decodes %XX escapes (and '+' in queries when `plus_is_space`). Returns nullopt on a bad escape.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space = false);

}  // namespace kura::registry
