// An HTTP/1.1 server on 127.0.0.1 that answers the requests it gets, in order, with a list of
// raw answers given in advance: a store that fails in exactly the way a test needs (a 503, a body
// cut short, no answer at all). It keeps connections alive like a real server, answers
// "Expect: 100-continue", and records every request (head and body) it received.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kura::testing {

class ScriptedHttpServer {
 public:
  struct Answer {
    std::string bytes;         // sent as is: status line, headers, body (or part of one)
    bool close_after = false;  // then close the connection (a body cut short)
    bool silent = false;       // send nothing, keep the connection open until the client leaves
  };

  // "HTTP/1.1 <status>" with the headers and the body, Content-Length set.
  static std::string Http(int status, const std::string& body = "",
                          const std::string& headers = "") {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\n" + headers +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  explicit ScriptedHttpServer(std::vector<Answer> answers) : answers_(std::move(answers)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("ScriptedHttpServer: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~ScriptedHttpServer() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Every request received so far: head (request line and headers) and body.
  std::vector<std::string> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  // Waits until `fd` is readable or the server stops; false when it stops.
  bool WaitReadable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }

  void Serve() {
    size_t next = 0;
    while (WaitReadable(listener_)) {
      int conn = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      std::string in;
      bool open = true;
      while (open && !stop_) {
        // One request: the head, then Content-Length bytes of body.
        size_t head_end;
        while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
          if (!Receive(conn, in)) {
            open = false;
            break;
          }
        }
        if (!open) break;
        std::string head = in.substr(0, head_end + 4);
        in.erase(0, head_end + 4);
        size_t length = ContentLength(head);
        if (HasHeader(head, "expect: 100-continue")) Send(conn, "HTTP/1.1 100 Continue\r\n\r\n");
        while (in.size() < length && (open = Receive(conn, in))) {
        }
        if (!open) break;
        {
          std::lock_guard lock(mutex_);
          requests_.push_back(head + in.substr(0, length));
        }
        in.erase(0, length);
        Answer answer = next < answers_.size() ? answers_[next++] : Answer{Http(500), true};
        if (answer.silent) {
          std::string ignored;
          while (Receive(conn, ignored)) {
          }
          break;
        }
        Send(conn, answer.bytes);
        if (answer.close_after) break;
      }
      ::close(conn);
    }
  }

  bool Receive(int conn, std::string& in) {
    if (!WaitReadable(conn)) return false;
    char buffer[65536];
    ssize_t n = ::recv(conn, buffer, sizeof(buffer), 0);
    if (n <= 0) return false;
    in.append(buffer, static_cast<size_t>(n));
    return true;
  }

  static void Send(int conn, const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(conn, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return s;
  }

  static bool HasHeader(const std::string& head, const std::string& lower_line) {
    return Lower(head).find("\r\n" + lower_line + "\r\n") != std::string::npos;
  }

  static size_t ContentLength(const std::string& head) {
    std::string lower = Lower(head);
    size_t at = lower.find("\r\ncontent-length:");
    return at == std::string::npos ? 0 : std::stoul(lower.substr(at + 17));
  }

  std::vector<Answer> answers_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

}  // namespace kura::testing
