// loadgen: a small closed-loop HTTP/1.1 keep-alive load generator for the kura benchmarks.
//
// Why not wrk or hey: wrk 4.1 waits for a body after a HEAD response that carries a
// Content-Length (and so reports 0 req/s), hey tops out near 40k req/s on 2 cores. This one
// reads no body after HEAD, 204 or 304, keeps every connection alive, and stops by itself.
//
// Rate mode (default):
//   loadgen --url http://127.0.0.1:PORT/path --method GET|HEAD|PUT|POST|DELETE
//           [--body-file F] [--header 'K: V']... [--url-file F]
//           --connections 64 --threads 2 --duration 5 [--warmup 0.5] [--max-requests N]
//   --url-file: one path (or full http://127.0.0.1:PORT/path URL) per line, taken round-robin
//   by a shared counter; with --max-requests equal to the line count each path is sent once.
//   Prints one JSON line: requests, errors (non-2xx or I/O), seconds, rate, latency p50/p90/
//   p99/max in microseconds, bytes of response bodies, a count per status code, and sent: the
//   requests sent from the start, the warm-up's included (what CPU seconds of the servers
//   measured over the whole run are to be divided by).
//
// Push mode (--push-list F): uploads blobs through the OCI Distribution API.
//   loadgen --push-list F --url http://127.0.0.1:PORT/v2/REPO [--chunk-size BYTES]
//           [--connections C] [--duration LIMIT]
//   F: one "FILE sha256:HEX" per line. Each blob: POST /v2/REPO/blobs/uploads/, then either one
//   PUT <location>?digest= with the whole file (chunk-size 0, "monolithic"), or PATCH chunks of
//   chunk-size bytes with Content-Range, then an empty PUT <location>?digest=. Bodies are sent
//   with sendfile(2). C connections take blobs from a shared counter. Prints one JSON line:
//   blobs, errors, seconds, bytes, mib_per_s, blobs_per_s, requests.
//
// Every loop is bounded: the run stops at --duration (plus a 5 s grace for requests in flight,
// which then count as errors) or after --max-requests, whichever comes first.
#include <strings.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "loadgen: %s\n", msg.c_str());
  std::exit(2);
}

struct Url {
  std::string host = "127.0.0.1";
  std::string port = "80";
  std::string path = "/";
};

// Parses http://HOST[:PORT]/PATH (no https, no userinfo).
Url ParseUrl(const std::string& s) {
  const std::string scheme = "http://";
  if (s.rfind(scheme, 0) != 0) Die("only http:// URLs: " + s);
  Url u;
  std::string rest = s.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = hostport.rfind(':');
  if (colon != std::string::npos && hostport.find(']') == std::string::npos) {
    u.host = hostport.substr(0, colon);
    u.port = hostport.substr(colon + 1);
  } else {
    u.host = hostport;
  }
  return u;
}

// Strips "http://host:port" from an absolute Location so that it can be requested on the same
// connection; a relative Location is returned as is.
std::string LocationPath(std::string_view loc) {
  if (loc.rfind("http://", 0) == 0 || loc.rfind("https://", 0) == 0) {
    size_t start = loc.find("//") + 2;
    size_t slash = loc.find('/', start);
    return slash == std::string_view::npos ? "/" : std::string(loc.substr(slash));
  }
  return std::string(loc);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) Die("cannot read " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Options {
  Url url;
  std::string method = "GET";
  std::vector<std::string> headers;
  std::optional<std::string> body;
  std::vector<std::string> paths;  // --url-file
  int connections = 1;
  int threads = 1;
  double duration = 5;
  double warmup = 0;
  uint64_t max_requests = 0;  // 0: no limit but the duration
  std::string push_list;
  uint64_t chunk_size = 0;
};

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

struct Response {
  int status = 0;
  uint64_t body_bytes = 0;
  bool close = false;
  std::string location;
};

// One keep-alive connection with its read buffer. Responses are parsed by hand: status line,
// Content-Length, Transfer-Encoding: chunked, Connection: close, Location.
class Conn {
 public:
  Conn(asio::any_io_executor ex, tcp::endpoint ep) : sock_(ex), ep_(ep), buf_(64 * 1024) {}

  asio::awaitable<bool> EnsureOpen() {
    if (sock_.is_open()) co_return true;
    auto [ec] = co_await sock_.async_connect(ep_, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      boost::system::error_code ignored;
      sock_.close(ignored);
      co_return false;
    }
    sock_.set_option(tcp::no_delay(true));
    begin_ = end_ = 0;
    co_return true;
  }

  void Close() {
    boost::system::error_code ignored;
    sock_.close(ignored);
    begin_ = end_ = 0;
  }

  // Sends `head` (request line + headers + blank line), then `body` or `len` bytes of file `fd`
  // from `offset`, and reads the response. Returns nullopt on an I/O or parse error (the
  // connection is then closed).
  asio::awaitable<std::optional<Response>> RoundTrip(std::string_view head, std::string_view body,
                                                     bool head_method, int fd = -1,
                                                     uint64_t offset = 0, uint64_t len = 0) {
    if (!co_await EnsureOpen()) co_return std::nullopt;
    std::optional<Response> r;
    if (co_await Send(head, body, fd, offset, len)) r = co_await Read(head_method);
    if (!r || r->close) Close();
    co_return r;
  }

 private:
  asio::awaitable<bool> Send(std::string_view head, std::string_view body, int fd,
                             uint64_t offset, uint64_t len) {
    std::array<asio::const_buffer, 2> bufs{asio::buffer(head.data(), head.size()),
                                           asio::buffer(body.data(), body.size())};
    auto [ec, n] = co_await asio::async_write(sock_, bufs, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return false;
    if (fd < 0 || len == 0) co_return true;
    sock_.native_non_blocking(true);
    off_t off = static_cast<off_t>(offset);
    uint64_t left = len;
    while (left > 0) {
      ssize_t w = ::sendfile(sock_.native_handle(), fd, &off, std::min<uint64_t>(left, 1 << 30));
      if (w > 0) {
        left -= static_cast<uint64_t>(w);
      } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        auto [wec] = co_await sock_.async_wait(tcp::socket::wait_write,
                                               asio::as_tuple(asio::use_awaitable));
        if (wec) co_return false;
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else {
        co_return false;
      }
    }
    co_return true;
  }

  // Makes at least one more byte available in buf_[begin_, end_). False on EOF or error.
  asio::awaitable<bool> Fill() {
    if (begin_ == end_) {
      begin_ = end_ = 0;
    } else if (end_ == buf_.size()) {
      if (begin_ == 0) co_return false;  // a header larger than the buffer
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    auto [ec, n] = co_await sock_.async_read_some(
        asio::buffer(buf_.data() + end_, buf_.size() - end_), asio::as_tuple(asio::use_awaitable));
    if (ec || n == 0) co_return false;
    end_ += n;
    co_return true;
  }

  // Reads one CRLF-terminated line into `line` (without CRLF).
  asio::awaitable<bool> ReadLine(std::string& line) {
    for (;;) {
      std::string_view win(buf_.data() + begin_, end_ - begin_);
      size_t nl = win.find("\r\n");
      if (nl != std::string_view::npos) {
        line.assign(win.substr(0, nl));
        begin_ += nl + 2;
        co_return true;
      }
      if (!co_await Fill()) co_return false;
    }
  }

  // Consumes `n` body bytes.
  asio::awaitable<bool> Skip(uint64_t n) {
    while (n > 0) {
      if (begin_ == end_ && !co_await Fill()) co_return false;
      uint64_t take = std::min<uint64_t>(n, end_ - begin_);
      begin_ += take;
      n -= take;
    }
    co_return true;
  }

  asio::awaitable<std::optional<Response>> Read(bool head_method) {
    Response r;
    // Headers: find the blank line in the buffer, then parse in place.
    size_t hdr_end;
    for (;;) {
      std::string_view win(buf_.data() + begin_, end_ - begin_);
      hdr_end = win.find("\r\n\r\n");
      if (hdr_end != std::string_view::npos) break;
      if (!co_await Fill()) co_return std::nullopt;
    }
    std::string_view hdr(buf_.data() + begin_, hdr_end + 2);
    begin_ += hdr_end + 4;
    size_t eol = hdr.find("\r\n");
    std::string_view status_line = hdr.substr(0, eol);
    if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") co_return std::nullopt;
    r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    bool http10 = status_line.substr(0, 8) == "HTTP/1.0";
    std::optional<uint64_t> content_length;
    bool chunked = false;
    r.close = http10;
    size_t pos = eol + 2;
    while (pos < hdr.size()) {
      size_t next = hdr.find("\r\n", pos);
      if (next == std::string_view::npos) next = hdr.size();
      std::string_view line = hdr.substr(pos, next - pos);
      pos = next + 2;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = line.substr(0, colon);
      std::string_view value = Trim(line.substr(colon + 1));
      if (IEquals(name, "content-length")) {
        content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
      } else if (IEquals(name, "transfer-encoding")) {
        chunked = value.find("chunked") != std::string_view::npos;
      } else if (IEquals(name, "connection")) {
        if (IEquals(value, "close")) r.close = true;
        if (IEquals(value, "keep-alive")) r.close = false;
      } else if (IEquals(name, "location")) {
        r.location.assign(value);
      }
    }
    if (head_method || r.status / 100 == 1 || r.status == 204 || r.status == 304) co_return r;
    if (chunked) {
      std::string line;
      for (;;) {
        if (!co_await ReadLine(line)) co_return std::nullopt;
        uint64_t size = std::strtoull(line.c_str(), nullptr, 16);
        if (size == 0) {
          // Trailers until the blank line.
          do {
            if (!co_await ReadLine(line)) co_return std::nullopt;
          } while (!line.empty());
          break;
        }
        if (!co_await Skip(size + 2)) co_return std::nullopt;
        r.body_bytes += size;
      }
    } else if (content_length) {
      if (!co_await Skip(*content_length)) co_return std::nullopt;
      r.body_bytes = *content_length;
    } else {
      // Body until EOF.
      for (;;) {
        r.body_bytes += end_ - begin_;
        begin_ = end_;
        if (!co_await Fill()) break;
      }
      r.close = true;
    }
    co_return r;
  }

  tcp::socket sock_;
  tcp::endpoint ep_;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;
};

struct ThreadStats {
  std::vector<uint32_t> lat_us;
  uint64_t requests = 0;  // measured (after warm-up)
  uint64_t errors = 0;
  uint64_t bytes = 0;
  std::map<int, uint64_t> status;
};

struct Shared {
  Options opt;
  std::vector<std::string> heads;  // one prepared request head per path
  std::atomic<uint64_t> issued{0};
  Clock::time_point start, measure_from, deadline;
  tcp::endpoint ep;
};

std::string BuildHead(const Options& o, const std::string& path) {
  // A --header "Host: ..." replaces the default (to address an instance by its hostname).
  bool own_host = false;
  for (const auto& x : o.headers) {
    own_host |= x.size() > 5 && strncasecmp(x.c_str(), "host:", 5) == 0;
  }
  std::string h = o.method + " " + path + " HTTP/1.1\r\n";
  if (!own_host) h += "Host: " + o.url.host + ":" + o.url.port + "\r\n";
  h += "User-Agent: kura-loadgen\r\n";
  for (const auto& x : o.headers) h += x + "\r\n";
  if (o.body) {
    h += "Content-Length: " + std::to_string(o.body->size()) + "\r\n";
  } else if (o.method == "PUT" || o.method == "POST" || o.method == "PATCH") {
    h += "Content-Length: 0\r\n";
  }
  h += "\r\n";
  return h;
}

asio::awaitable<void> RateConnection(Shared& sh, ThreadStats& st) {
  Conn conn(co_await asio::this_coro::executor, sh.ep);
  const bool head = sh.opt.method == "HEAD";
  std::string_view body = sh.opt.body ? std::string_view(*sh.opt.body) : std::string_view();
  for (;;) {
    if (Clock::now() >= sh.deadline) break;
    uint64_t i = sh.issued.fetch_add(1, std::memory_order_relaxed);
    if (sh.opt.max_requests && i >= sh.opt.max_requests) break;
    const std::string& h = sh.heads[i % sh.heads.size()];
    auto t0 = Clock::now();
    auto r = co_await conn.RoundTrip(h, body, head);
    auto t1 = Clock::now();
    bool measured = t0 >= sh.measure_from;
    if (!measured) continue;
    ++st.requests;
    if (!r) {
      ++st.errors;
      ++st.status[0];
      // Do not spin on a refused connection.
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(10));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    ++st.status[r->status];
    if (r->status / 100 != 2) ++st.errors;
    st.bytes += r->body_bytes;
    st.lat_us.push_back(static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
  }
}

struct PushItem {
  std::string file;
  std::string digest;
  uint64_t size = 0;
};

struct PushShared {
  Options opt;
  std::string repo_path;  // /v2/REPO
  std::vector<PushItem> items;
  std::atomic<size_t> next{0};
  Clock::time_point deadline;
  tcp::endpoint ep;
  std::atomic<uint64_t> done{0}, errors{0}, bytes{0}, requests{0};
};

std::string Head(const PushShared& sh, const std::string& method, const std::string& path,
                 uint64_t len, const std::string& extra) {
  return method + " " + path + " HTTP/1.1\r\nHost: " + sh.opt.url.host + ":" + sh.opt.url.port +
         "\r\nUser-Agent: kura-loadgen\r\nContent-Length: " + std::to_string(len) + "\r\n" + extra +
         "\r\n";
}

std::string WithQuery(const std::string& loc, const std::string& kv) {
  return loc + (loc.find('?') == std::string::npos ? "?" : "&") + kv;
}

asio::awaitable<bool> PushOne(PushShared& sh, Conn& conn, const PushItem& it) {
  std::string extra;
  for (const auto& x : sh.opt.headers) extra += x + "\r\n";
  auto r = co_await conn.RoundTrip(Head(sh, "POST", sh.repo_path + "/blobs/uploads/", 0, extra),
                                   {}, false);
  ++sh.requests;
  if (!r || r->status != 202 || r->location.empty()) co_return false;
  std::string loc = LocationPath(r->location);
  int fd = ::open(it.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) co_return false;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const std::string octet = "Content-Type: application/octet-stream\r\n";
  if (sh.opt.chunk_size == 0) {
    r = co_await conn.RoundTrip(
        Head(sh, "PUT", WithQuery(loc, "digest=" + it.digest), it.size, extra + octet), {}, false,
        fd, 0, it.size);
    ++sh.requests;
    co_return r && r->status == 201;
  }
  for (uint64_t off = 0; off < it.size; off += sh.opt.chunk_size) {
    if (Clock::now() >= sh.deadline) co_return false;
    uint64_t len = std::min<uint64_t>(sh.opt.chunk_size, it.size - off);
    std::string range =
        "Content-Range: " + std::to_string(off) + "-" + std::to_string(off + len - 1) + "\r\n";
    r = co_await conn.RoundTrip(Head(sh, "PATCH", loc, len, extra + octet + range), {}, false, fd,
                                off, len);
    ++sh.requests;
    if (!r || r->status != 202 || r->location.empty()) co_return false;
    loc = LocationPath(r->location);
  }
  r = co_await conn.RoundTrip(Head(sh, "PUT", WithQuery(loc, "digest=" + it.digest), 0, extra), {},
                              false);
  ++sh.requests;
  co_return r && r->status == 201;
}

asio::awaitable<void> PushConnection(PushShared& sh) {
  Conn conn(co_await asio::this_coro::executor, sh.ep);
  for (;;) {
    if (Clock::now() >= sh.deadline) break;
    size_t i = sh.next.fetch_add(1);
    if (i >= sh.items.size()) break;
    bool ok = co_await PushOne(sh, conn, sh.items[i]);
    if (ok) {
      ++sh.done;
      sh.bytes += sh.items[i].size;
    } else {
      ++sh.errors;
      conn.Close();
    }
  }
}

tcp::endpoint Resolve(const Url& u) {
  asio::io_context ctx;
  tcp::resolver res(ctx);
  boost::system::error_code ec;
  auto eps = res.resolve(u.host, u.port, ec);
  if (ec || eps.empty()) Die("cannot resolve " + u.host + ":" + u.port);
  return *eps.begin();
}

int RunPush(Options& o) {
  auto sh = std::make_unique<PushShared>();
  sh->opt = o;
  sh->repo_path = o.url.path;
  while (!sh->repo_path.empty() && sh->repo_path.back() == '/') sh->repo_path.pop_back();
  std::ifstream f(o.push_list);
  if (!f) Die("cannot read " + o.push_list);
  std::string file, digest;
  while (f >> file >> digest) {
    struct stat s{};
    if (::stat(file.c_str(), &s) != 0) Die("cannot stat " + file);
    sh->items.push_back({file, digest, static_cast<uint64_t>(s.st_size)});
  }
  sh->ep = Resolve(o.url);
  auto start = Clock::now();
  sh->deadline = start + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(o.duration));
  asio::io_context ctx(1);
  for (int c = 0; c < o.connections; ++c) asio::co_spawn(ctx, PushConnection(*sh), asio::detached);
  ctx.run_until(sh->deadline + std::chrono::seconds(5));
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  uint64_t unfinished = sh->items.size() - sh->done - sh->errors;
  std::printf(
      "{\"blobs\":%llu,\"errors\":%llu,\"seconds\":%.6f,\"bytes\":%llu,\"mib_per_s\":%.2f,"
      "\"blobs_per_s\":%.2f,\"requests\":%llu}\n",
      (unsigned long long)sh->done.load(), (unsigned long long)(sh->errors + unfinished), secs,
      (unsigned long long)sh->bytes.load(), sh->bytes / secs / (1 << 20), sh->done / secs,
      (unsigned long long)sh->requests.load());
  return sh->errors + unfinished == 0 ? 0 : 1;
}

int RunRate(Options& o) {
  auto sh = std::make_unique<Shared>();
  sh->opt = o;
  std::vector<std::string> paths = o.paths.empty() ? std::vector<std::string>{o.url.path} : o.paths;
  for (auto& p : paths) sh->heads.push_back(BuildHead(o, p));
  sh->ep = Resolve(o.url);
  std::vector<ThreadStats> stats(o.threads);
  for (auto& s : stats) {
    size_t guess = o.max_requests ? o.max_requests / o.threads + 1 : 1 << 20;
    s.lat_us.reserve(std::min<size_t>(guess, 1 << 22));
  }
  sh->start = Clock::now();
  auto dur = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  sh->measure_from = sh->start + dur(o.warmup);
  sh->deadline = sh->measure_from + dur(o.duration);
  auto hard_stop = sh->deadline + std::chrono::seconds(5);
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    int conns = o.connections / o.threads + (t < o.connections % o.threads ? 1 : 0);
    threads.emplace_back([&, t, conns] {
      asio::io_context ctx(1);
      for (int c = 0; c < conns; ++c) {
        asio::co_spawn(ctx, RateConnection(*sh, stats[t]), asio::detached);
      }
      ctx.run_until(hard_stop);
    });
  }
  for (auto& th : threads) th.join();
  auto end = Clock::now();
  // Requests cut by the hard stop never reached the stats: count them as errors.
  uint64_t issued = sh->issued.load();
  if (o.max_requests) issued = std::min(issued, o.max_requests);
  ThreadStats all;
  for (auto& s : stats) {
    all.requests += s.requests;
    all.errors += s.errors;
    all.bytes += s.bytes;
    for (auto& [k, v] : s.status) all.status[k] += v;
    all.lat_us.insert(all.lat_us.end(), s.lat_us.begin(), s.lat_us.end());
  }
  // Elapsed measuring time: until the last response (or the deadline when bounded by it).
  double secs = std::chrono::duration<double>(std::min(end, hard_stop) - sh->measure_from).count();
  if (secs <= 0) secs = 1e-9;
  std::sort(all.lat_us.begin(), all.lat_us.end());
  auto pct = [&](double p) -> uint32_t {
    if (all.lat_us.empty()) return 0;
    size_t i = static_cast<size_t>(p * (all.lat_us.size() - 1) + 0.5);
    return all.lat_us[std::min(i, all.lat_us.size() - 1)];
  };
  uint64_t ok = all.requests - all.errors;
  std::string status;
  for (auto& [k, v] : all.status) {
    status += (status.empty() ? "" : ",") + ("\"" + std::to_string(k) + "\":" + std::to_string(v));
  }
  std::printf(
      "{\"requests\":%llu,\"errors\":%llu,\"seconds\":%.6f,\"rate\":%.1f,\"ok_rate\":%.1f,"
      "\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,\"max_us\":%u,\"bytes\":%llu,\"status\":{%s},"
      "\"sent\":%llu}\n",
      (unsigned long long)all.requests, (unsigned long long)all.errors, secs, all.requests / secs,
      ok / secs, pct(0.50), pct(0.90), pct(0.99), all.lat_us.empty() ? 0 : all.lat_us.back(),
      (unsigned long long)all.bytes, status.c_str(), (unsigned long long)issued);
  return all.errors == 0 ? 0 : 1;
}

void Usage() {
  std::fprintf(stderr,
               "usage: loadgen --url http://127.0.0.1:PORT/path [--method GET|HEAD|PUT|POST|DELETE]\n"
               "         [--body-file F] [--header 'K: V']... [--url-file F] [--connections N]\n"
               "         [--threads N] [--duration S] [--warmup S] [--max-requests N]\n"
               "       loadgen --push-list F --url http://127.0.0.1:PORT/v2/REPO [--chunk-size B]\n"
               "         [--connections N] [--duration LIMIT]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string url, url_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (a == "--url") url = val();
    else if (a == "--method") o.method = val();
    else if (a == "--body-file") o.body = ReadFile(val());
    else if (a == "--header") o.headers.push_back(val());
    else if (a == "--url-file") url_file = val();
    else if (a == "--connections") o.connections = std::stoi(val());
    else if (a == "--threads") o.threads = std::stoi(val());
    else if (a == "--duration") o.duration = std::stod(val());
    else if (a == "--warmup") o.warmup = std::stod(val());
    else if (a == "--max-requests") o.max_requests = std::stoull(val());
    else if (a == "--push-list") o.push_list = val();
    else if (a == "--chunk-size") o.chunk_size = std::stoull(val());
    else Usage();
  }
  if (url.empty()) Usage();
  o.url = ParseUrl(url);
  if (o.connections < 1 || o.threads < 1 || o.duration <= 0 || o.duration > 3600) Usage();
  o.threads = std::min(o.threads, o.connections);
  if (!url_file.empty()) {
    std::ifstream f(url_file);
    if (!f) Die("cannot read " + url_file);
    std::string line;
    while (std::getline(f, line)) {
      if (line.empty()) continue;
      o.paths.push_back(line.rfind("http://", 0) == 0 ? ParseUrl(line).path : line);
    }
    if (o.paths.empty()) Die("no paths in " + url_file);
  }
  if (!o.push_list.empty()) return RunPush(o);
  return RunRate(o);
}
