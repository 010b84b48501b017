#include "server/netns_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace kura::server {
namespace {

// Runs on the calling thread: returns the fd or -errno, with *what naming the failed step.
int ListenHere(const std::string& host, uint16_t port, std::string* what) {
  sockaddr_storage addr{};
  socklen_t len;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    *what = "parse address";
    return -EINVAL;
  }
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *what = "socket";
    return -errno;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    int e = errno;
    ::close(fd);
    *what = "bind";
    return -e;
  }
  if (::listen(fd, SOMAXCONN) != 0) {
    int e = errno;
    ::close(fd);
    *what = "listen";
    return -e;
  }
  return fd;
}

}  // namespace

int OpenListeningSocket(const std::string& netns, const std::string& host, uint16_t port) {
  std::string where = host + ":" + std::to_string(port) +
                      (netns.empty() ? std::string() : " in network namespace " + netns);
  int result = 0;
  std::string what;
  if (netns.empty()) {
    result = ListenHere(host, port, &what);
  } else {
    if (netns.find('/') != std::string::npos || netns == "." || netns == "..") {
      throw std::runtime_error("invalid network namespace name " + netns);
    }
    std::thread worker([&] {
      int ns = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0) {
        result = -errno;
        what = "open /run/netns/" + netns;
        return;
      }
      // The thread leaves the namespace by ending; nothing else runs on it.
      if (::setns(ns, CLONE_NEWNET) != 0) {
        result = -errno;
        what = "setns";
        ::close(ns);
        return;
      }
      ::close(ns);
      result = ListenHere(host, port, &what);
    });
    worker.join();
  }
  if (result < 0) {
    throw std::runtime_error("cannot listen on " + where + ": " + what + ": " +
                             std::strerror(-result));
  }
  return result;
}

}  // namespace kura::server
