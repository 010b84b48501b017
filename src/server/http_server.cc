#include "server/http_server.h"

#include <sys/sendfile.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "server/netns_socket.h"
#include "server/proxy_protocol.h"

namespace kura::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using registry::Response;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(120);
constexpr auto kIoTimeout = std::chrono::seconds(60);
// A request body must keep coming: no silence of a whole window, and at least kMinBodyBytes in
// every window (3.2 KiB/s). A client trickling a byte now and then would otherwise hold its
// upload's memory, its upload slot and its session lease for as long as it liked.
constexpr auto kBodyWindow = std::chrono::seconds(10);
constexpr uint64_t kMinBodyBytes = 32 * 1024;
constexpr size_t kHeaderLimit = 64 * 1024;
constexpr size_t kMaxProxyHeader = 4096;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

beast::tcp_stream& Lowest(beast::tcp_stream& s) {
  return s;
}
beast::tcp_stream& Lowest(beast::ssl_stream<beast::tcp_stream>& s) {
  return s.next_layer();
}

// The request body as the registry reads it. A body with a Content-Length is read straight from
// the socket into the caller's buffer, one system call per piece (uploads run at memory speed);
// a chunked body goes through the parser, which decodes the chunks.
template <class Stream>
class ParserBodyReader final : public registry::BodyReader {
 public:
  ParserBodyReader(Stream& stream, beast::flat_buffer& buffer,
                   http::request_parser<http::buffer_body>& parser)
      : stream_(stream), buffer_(buffer), parser_(parser) {
    if (auto length = parser_.content_length(); length && !parser_.chunked()) {
      declared_ = *length;
      remaining_ = *length;
    }
  }

  asio::awaitable<size_t> Read(char* buf, size_t n) override {
    if (window_start_ == std::chrono::steady_clock::time_point()) {
      window_start_ = std::chrono::steady_clock::now();  // the handler starts reading
    }
    size_t got = co_await ReadSome(buf, n);
    Account(got);
    co_return got;
  }

  std::optional<uint64_t> ContentLength() const override { return declared_; }

  // True once the whole body has been read: the connection may carry another request.
  bool Complete() const { return declared_ ? remaining_ == 0 : parser_.is_done(); }

 private:
  // Throws BodyError when the body has come slower than kMinBodyBytes per kBodyWindow.
  void Account(size_t got) {
    auto now = std::chrono::steady_clock::now();
    window_bytes_ += got;
    if (now - window_start_ < kBodyWindow) return;
    if (window_bytes_ < kMinBodyBytes && got > 0) {
      throw registry::BodyError("body arriving slower than " +
                                std::to_string(kMinBodyBytes / 1024) + " KiB in " +
                                std::to_string(kBodyWindow.count()) + " s");
    }
    window_start_ = now;
    window_bytes_ = 0;
  }

  asio::awaitable<size_t> ReadSome(char* buf, size_t n) {
    if (!continue_sent_ && !Complete() &&
        beast::iequals(parser_.get()[http::field::expect], "100-continue")) {
      // Clients that asked to wait (curl with large bodies) start sending only after this.
      continue_sent_ = true;
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      Lowest(stream_).expires_after(kIoTimeout);
      auto [ec, _] = co_await asio::async_write(stream_, asio::buffer(kContinue), use_tuple);
      if (ec) throw registry::BodyError(ec.message());
    }
    if (declared_) {
      if (remaining_ == 0 || n == 0) co_return 0;
      size_t want = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
      if (buffer_.size() > 0) {  // body bytes that arrived with the header
        size_t k = asio::buffer_copy(asio::buffer(buf, want), buffer_.data());
        buffer_.consume(k);
        remaining_ -= k;
        co_return k;
      }
      Lowest(stream_).expires_after(kBodyWindow);
      auto [ec, got] = co_await stream_.async_read_some(asio::buffer(buf, want), use_tuple);
      if (ec) {
        throw registry::BodyError("connection ended after " +
                                  std::to_string(*declared_ - remaining_) + " of " +
                                  std::to_string(*declared_) + " bytes: " + ec.message());
      }
      remaining_ -= got;
      co_return got;
    }
    while (!parser_.is_done()) {
      parser_.get().body().data = buf;
      parser_.get().body().size = n;
      Lowest(stream_).expires_after(kBodyWindow);
      auto [ec, _] = co_await http::async_read(stream_, buffer_, parser_, use_tuple);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) throw registry::BodyError(ec.message());
      size_t got = n - parser_.get().body().size;
      if (got > 0) co_return got;
    }
    co_return 0;
  }

  Stream& stream_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::buffer_body>& parser_;
  std::optional<uint64_t> declared_;  // Content-Length, for a body read straight from the socket
  uint64_t remaining_ = 0;
  bool continue_sent_ = false;
  std::chrono::steady_clock::time_point window_start_;  // of the current rate window
  uint64_t window_bytes_ = 0;                           // body bytes received in it
};

// Blobs in a store with no file descriptor (an object store) are read on these threads, so that
// the waits of a blocking ranged read never stall the I/O threads and every connection on them.
asio::thread_pool& BlockingReads() {
  static asio::thread_pool pool(8);
  return pool;
}

// A file blob is told what will be read this far ahead (BlobReader::WillRead), so that pages no
// longer in the cache are read from the disk ahead of the socket rather than one fault at a time.
constexpr uint64_t kReadAheadWindow = 16 << 20;

// Writes bytes [blob_offset, +blob_length) of the blob through the stream: read, then write, one
// piece at a time. Blocking reads (an object store's) run on BlockingReads, and the reader is
// told the whole range at once; a file is read on this thread, a window told at a time. Bytes the
// reader lends (an object store's, BlobReader::Lend) go to the socket from its buffers.
template <class Stream>
asio::awaitable<bool> WriteBlobPieces(Stream& stream, Response& r, bool blocking_reads) {
  const size_t piece = blocking_reads ? 4u << 20 : 256u << 10;
  std::vector<char> buf;  // only for a reader that lends nothing
  uint64_t offset = r.blob_offset;
  uint64_t left = r.blob_length;
  store::BlobReader& blob = *r.blob;
  if (blocking_reads) blob.WillRead(offset, left);
  uint64_t told_until = offset;  // of a file
  while (left > 0) {
    if (!blocking_reads && offset >= told_until) {
      uint64_t window = std::min(left, kReadAheadWindow);
      blob.WillRead(offset, window);
      told_until = offset + window;
    }
    size_t want = static_cast<size_t>(std::min<uint64_t>(left, piece));
    auto read = [&blob, &buf, piece, offset, want]() -> std::string_view {
      try {
        if (std::optional<std::string_view> lent = blob.Lend(offset, want)) return *lent;
        buf.resize(piece);
        return std::string_view(buf.data(), blob.ReadAt(offset, buf.data(), want));
      } catch (const std::exception& e) {
        std::cerr << "kura: cannot read blob: " << e.what() << "\n";
        return {};
      }
    };
    std::string_view got;
    if (blocking_reads) {
      got = co_await asio::co_spawn(
          BlockingReads(), [&read]() -> asio::awaitable<std::string_view> { co_return read(); },
          asio::use_awaitable);
    } else {
      got = read();
    }
    if (got.empty()) co_return false;  // the blob shrank or the store failed: the client sees a cut
    Lowest(stream).expires_after(kIoTimeout);
    auto [ec, _] =
        co_await asio::async_write(stream, asio::buffer(got.data(), got.size()), use_tuple);
    if (ec) co_return false;
    offset += got.size();
    left -= got.size();
  }
  co_return true;
}

// True when the other end of `sock` is this machine: a loopback address, or the socket's own.
bool PeerIsThisHost(tcp::socket& sock) {
  boost::system::error_code ec;
  const auto remote = sock.remote_endpoint(ec);
  if (ec) return false;
  const auto local = sock.local_endpoint(ec);
  if (ec) return false;
  asio::ip::address address = remote.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.is_loopback() || remote.address() == local.address();
}

// Writes the body of `r` from its blob: sendfile when the blob has a descriptor, the connection
// is plain TCP and its peer another machine, else in pieces. To a peer on this machine (a CI job
// pulling what it just pushed, a balancer in front) the bytes are copied: the receiver copies
// sendfile's page-cache pages out of each packet 4 KiB at a time, and pulled at 1.1-1.4 GB/s
// where copied bytes went at 2.0-2.3 GB/s, for the same server CPU (nginx with sendfile on and
// off, and kura, on the same 512 MiB file: bench/README.md).
asio::awaitable<bool> WriteBlobBody(beast::tcp_stream& stream, Response& r) {
  int fd = r.blob->fd();
  tcp::socket& sock = stream.socket();
  if (fd < 0) co_return co_await WriteBlobPieces(stream, r, true);
  if (PeerIsThisHost(sock)) co_return co_await WriteBlobPieces(stream, r, false);
  sock.native_non_blocking(true);
  const uint64_t end = r.blob_offset + r.blob_length;
  uint64_t pos = r.blob_offset;
  while (pos < end) {
    uint64_t window_end = std::min(end, pos + kReadAheadWindow);
    r.blob->WillRead(pos, window_end - pos);
    while (pos < window_end) {
      auto offset = static_cast<off_t>(pos);
      ssize_t n = ::sendfile(sock.native_handle(), fd, &offset, static_cast<size_t>(window_end - pos));
      if (n > 0) {
        pos += static_cast<uint64_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        stream.expires_after(kIoTimeout);
        auto [ec] = co_await sock.async_wait(tcp::socket::wait_write, use_tuple);
        if (ec) co_return false;
        continue;
      }
      co_return false;  // the file shrank or the peer went away
    }
  }
  co_return true;
}

asio::awaitable<bool> WriteBlobBody(beast::ssl_stream<beast::tcp_stream>& stream, Response& r) {
  co_return co_await WriteBlobPieces(stream, r, r.blob->fd() < 0);
}

// Writes the status line and headers, then the body. Returns false if the connection failed.
template <class Stream>
asio::awaitable<bool> WriteResponse(Stream& stream, Response& r, bool keep_alive) {
  Lowest(stream).expires_after(kIoTimeout);
  if (!r.blob && !r.head_length) {
    http::response<http::string_body> res{r.status, 11};
    res.base() = http::response_header<>(std::move(r.fields));
    res.result(r.status);
    res.version(11);
    res.body() = std::move(r.body);
    res.set(http::field::server, "kura");
    res.set("Docker-Distribution-API-Version", "registry/2.0");
    res.keep_alive(keep_alive);
    res.prepare_payload();
    auto [ec, _] = co_await http::async_write(stream, res, use_tuple);
    co_return !ec;
  }
  http::response<http::empty_body> res{r.status, 11};
  res.base() = http::response_header<>(std::move(r.fields));
  res.result(r.status);
  res.version(11);
  res.set(http::field::server, "kura");
  res.set("Docker-Distribution-API-Version", "registry/2.0");
  res.keep_alive(keep_alive);
  res.content_length(r.ContentLength());
  http::response_serializer<http::empty_body> sr{res};
  auto [ec, _] = co_await http::async_write_header(stream, sr, use_tuple);
  if (ec) co_return false;
  if (r.blob && !r.head_length) co_return co_await WriteBlobBody(stream, r);
  co_return true;
}

std::string SplitQuery(std::string_view target, std::string* query) {
  size_t q = target.find('?');
  if (q != std::string_view::npos) *query = std::string(target.substr(q + 1));
  return std::string(target.substr(0, q));
}

}  // namespace

// Reads a PROXY v1/v2 header from a trusted sender. Returns false (close the connection) when
// it is missing or malformed; bytes after the header stay in `buffer` for the HTTP parser.
asio::awaitable<bool> ReadProxyHeader(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                      Peer* peer) {
  while (true) {
    auto data = buffer.cdata();
    std::string_view bytes(static_cast<const char*>(data.data()), data.size());
    ProxyParseResult parsed = ParseProxyHeader(bytes);
    if (parsed.state == ProxyParse::kInvalid) co_return false;
    if (parsed.state == ProxyParse::kDone) {
      buffer.consume(parsed.consumed);
      if (!parsed.header.local && parsed.header.source) {
        peer->address = parsed.header.source->Unmapped();
      }
      if (parsed.header.vpc_id) peer->arrival_network = parsed.header.vpc_id;
      co_return true;
    }
    if (buffer.size() > kMaxProxyHeader) co_return false;
    stream.expires_after(kIoTimeout);
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(1024), use_tuple);
    if (ec) co_return false;
    buffer.commit(n);
  }
}

// One client connection: requests are answered in order until either side closes.
struct HttpListener::Connection {
  template <class Stream>
  static asio::awaitable<void> Serve(HttpListener& listener, Stream& stream,
                                     beast::flat_buffer& buffer, Peer peer) {
    std::string peer_text = peer.address.ToString();
    while (true) {
      http::request_parser<http::empty_body> header_parser;
      header_parser.header_limit(kHeaderLimit);
      header_parser.body_limit(boost::none);
      Lowest(stream).expires_after(kIdleTimeout);
      auto [ec, _] = co_await http::async_read_header(stream, buffer, header_parser, use_tuple);
      if (ec) {
        if (ec != http::error::end_of_stream && ec != asio::error::eof &&
            ec != beast::error::timeout && ec != asio::error::connection_reset) {
          // Malformed request line or headers: answer 400 and close.
          Response bad = registry::ErrorResponse(core::RegistryError(
              core::ErrorCode::kUnsupported, "malformed HTTP request: " + ec.message(), {}, 400));
          co_await WriteResponse(stream, bad, false);
        }
        co_return;
      }
      if (header_parser.get().count(http::field::transfer_encoding) > 0 &&
          !header_parser.chunked()) {
        // RFC 9112, 6.3: a request whose last transfer coding is not chunked has a body of no
        // knowable length. Taken as body-less, its body would run as the next request.
        Response bad = registry::ErrorResponse(core::RegistryError(
            core::ErrorCode::kUnsupported,
            "malformed HTTP request: Transfer-Encoding must end in chunked", {}, 400));
        co_await WriteResponse(stream, bad, false);
        co_return;
      }
      http::request_parser<http::buffer_body> parser{std::move(header_parser)};
      const auto& header = parser.get().base();
      ParserBodyReader<Stream> body(stream, buffer, parser);
      std::string query;
      std::string raw_path = SplitQuery(header.target(), &query);
      auto path = registry::PercentDecode(raw_path);
      registry::Request req{header, path.value_or(""), std::move(query), body, {}, {}};
      Response res;
      if (!path) {
        res = registry::ErrorResponse(
            core::RegistryError(core::ErrorCode::kNameInvalid, "malformed path escape"));
      } else {
        res = co_await listener.handler_(req, peer);
      }
      if (header.method() == http::verb::head && !res.head_length) {
        // RFC 9110, 9.3.2: the headers a GET would get, Content-Length included, and no content
        // (on a kept-alive connection the client would read it as the next response).
        res.head_length = res.ContentLength();
        res.body.clear();
        res.blob.reset();
      }
      // A body the handler did not read would be taken for the next request: close instead.
      bool keep_alive = parser.keep_alive() && body.Complete();
      if (listener.access_log_) {
        std::fprintf(stderr,
                     "{\"peer\":\"%s\",\"method\":\"%s\",\"target\":\"%s\",\"status\":%u}\n",
                     peer_text.c_str(), std::string(header.method_string()).c_str(),
                     std::string(header.target()).c_str(), static_cast<unsigned>(res.status));
      }
      if (!co_await WriteResponse(stream, res, keep_alive) || !keep_alive) break;
    }
    beast::error_code ignored;
    Lowest(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  static asio::awaitable<void> Accepted(HttpListener& listener, tcp::socket socket) {
    boost::system::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    auto remote = socket.remote_endpoint(ec);
    if (ec) co_return;
    Peer peer;
    peer.address = *core::IpAddress::Parse(remote.address().to_string());
    peer.address = peer.address.Unmapped();
    beast::tcp_stream tcp_stream(std::move(socket));
    beast::flat_buffer buffer;
    if (listener.TrustsProxyFrom(peer.address)) {
      if (!co_await ReadProxyHeader(tcp_stream, buffer, &peer)) co_return;
    }
    if (!listener.tls_) {
      co_await Serve(listener, tcp_stream, buffer, std::move(peer));
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), *listener.tls_);
    stream.next_layer().expires_after(kIoTimeout);
    auto [hec, used] =
        co_await stream.async_handshake(ssl::stream_base::server, buffer.data(), use_tuple);
    if (hec) co_return;
    buffer.consume(used);
    co_await Serve(listener, stream, buffer, std::move(peer));
  }
};

HttpListener::HttpListener(const ListenerConfig& config, RequestHandler handler, bool access_log)
    : config_(config), handler_(std::move(handler)), access_log_(access_log) {}

bool HttpListener::TrustsProxyFrom(const core::IpAddress& address) const {
  for (const core::Cidr& cidr : config_.proxy_senders) {
    if (cidr.Contains(address)) return true;
  }
  return false;
}

void HttpListener::Start(IoThreads& threads) {
  if (!config_.tls_certificate.empty()) {
    tls_.emplace(ssl::context::tls_server);
    tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    tls_->use_certificate_chain_file(config_.tls_certificate, ec);
    if (ec) throw std::runtime_error("cannot read TLS certificate " + config_.tls_certificate);
    tls_->use_private_key_file(config_.tls_key, ssl::context::pem, ec);
    if (ec) throw std::runtime_error("cannot read TLS key " + config_.tls_key);
  }
  int fd = OpenListeningSocket(config_.netns, config_.host, config_.port);
  auto acceptor = std::make_shared<tcp::acceptor>(threads.Next());
  boost::system::error_code ec;
  auto address = asio::ip::make_address(config_.host, ec);
  acceptor->assign(address.is_v6() ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    throw std::runtime_error("cannot use listening socket: " + ec.message());
  }
  port_ = acceptor->local_endpoint().port();

  asio::co_spawn(
      acceptor->get_executor(),
      [this, acceptor, &threads]() -> asio::awaitable<void> {
        while (true) {
          // Each connection lives on one I/O thread (io_threads.h): its timers and I/O never run
          // at once, nor on two cores.
          auto accepted = co_await acceptor->async_accept(threads.Next(), use_tuple);
          boost::system::error_code ec = std::get<0>(accepted);
          if (ec) {
            if (ec == asio::error::operation_aborted) co_return;
            continue;  // e.g. EMFILE: keep serving the connections we have
          }
          tcp::socket socket = std::move(std::get<1>(accepted));
          auto executor = socket.get_executor();
          asio::co_spawn(executor, Connection::Accepted(*this, std::move(socket)), asio::detached);
        }
      },
      asio::detached);
}

}  // namespace kura::server
