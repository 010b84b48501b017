// Listening sockets inside Linux network namespaces. A socket belongs to the namespace it was
// created in, for life; the process may use it from anywhere. So the socket is created on a
// short-lived thread that alone enters the namespace (setns affects only the calling thread).
#pragma once

#include <cstdint>
#include <string>

namespace kura::server {

// Creates a TCP socket listening on host:port inside the network namespace /run/netns/<netns>
// (the current namespace when netns is empty). Returns the file descriptor; throws
// std::runtime_error with the reason (unknown namespace, address not present, in use).
int OpenListeningSocket(const std::string& netns, const std::string& host, uint16_t port);

}  // namespace kura::server
