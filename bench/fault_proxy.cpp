#include "bench/fault_proxy.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace mrt::bench {

namespace {

constexpr auto kDelay = std::chrono::milliseconds(300);  // per chunk from the homeserver

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  if (fd >= 0) ::close(fd);
  return -1;
}

bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

const char* to_string(ProxyFault fault) {
  switch (fault) {
    case ProxyFault::none:
      return "none";
    case ProxyFault::delay:
      return "delay";
    case ProxyFault::drop:
      return "drop";
    case ProxyFault::too_many_requests:
      return "429";
    case ProxyFault::bad_gateway:
      return "502";
  }
  return "?";
}

FaultProxy::FaultProxy(const std::string& upstream_url) {
  const auto colon = upstream_url.rfind(':');
  if (colon == std::string::npos || upstream_url.rfind("http://127.0.0.1:", 0) != 0) {
    throw std::runtime_error("FaultProxy: upstream is not http://127.0.0.1:PORT: " + upstream_url);
  }
  upstream_port_ = static_cast<std::uint16_t>(std::stoi(upstream_url.substr(colon + 1)));
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listener_, 128) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error("FaultProxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  ::shutdown(listener_, SHUT_RDWR);
  acceptor_.join();
  ::close(listener_);
  for (auto& c : connections_) c.thread.join();
}

std::string FaultProxy::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void FaultProxy::set_fault(ProxyFault fault) {
  fault_ = fault;
  if (fault == ProxyFault::drop || fault == ProxyFault::too_many_requests ||
      fault == ProxyFault::bad_gateway) {
    ++cut_generation_;
  }
}

void FaultProxy::accept_loop() {
  while (!stopping_) {
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard lock(connections_mutex_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if (it->done) {
        it->thread.join();
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
    Connection& c = connections_.emplace_back();
    c.thread = std::thread([this, client, &c] {
      serve(client);
      c.done = true;
    });
  }
}

void FaultProxy::answer_with_fault(int client, ProxyFault fault) {
  ++applied_;
  if (fault == ProxyFault::drop) return;
  // Read the request's head, so that the client is writing no more when it is answered.
  std::string head;
  char chunk[4096];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
    pollfd p{client, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) return;
    const ssize_t n = ::recv(client, chunk, sizeof chunk, 0);
    if (n <= 0) return;
    head.append(chunk, static_cast<std::size_t>(n));
  }
  const std::string body =
      fault == ProxyFault::too_many_requests
          ? R"({"errcode":"M_LIMIT_EXCEEDED","error":"the fault proxy says slow down","retry_after_ms":200})"
          : R"({"errcode":"M_UNKNOWN","error":"the fault proxy's bad gateway"})";
  const std::string status =
      fault == ProxyFault::too_many_requests ? "429 Too Many Requests" : "502 Bad Gateway";
  const std::string answer =
      "HTTP/1.1 " + status +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  write_all(client, answer.data(), answer.size());
}

void FaultProxy::serve(int client) {
  const ProxyFault at_accept = fault_;
  if (at_accept == ProxyFault::drop || at_accept == ProxyFault::too_many_requests ||
      at_accept == ProxyFault::bad_gateway) {
    answer_with_fault(client, at_accept);
    ::close(client);
    return;
  }
  const int upstream = connect_to(upstream_port_);
  if (upstream < 0) {
    ::close(client);
    return;
  }
  const std::uint64_t generation = cut_generation_;
  char chunk[65536];
  while (!stopping_) {
    if (cut_generation_ != generation) {
      ++applied_;
      break;
    }
    pollfd p[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    if (::poll(p, 2, 50) <= 0) continue;
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t n = ::recv(p[i].fd, chunk, sizeof chunk, 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      if (i == 1 && fault_ == ProxyFault::delay) std::this_thread::sleep_for(kDelay);
      if (!write_all(p[1 - i].fd, chunk, static_cast<std::size_t>(n))) closed = true;
    }
    if (closed) break;
  }
  ::close(upstream);
  ::close(client);
}

}  // namespace mrt::bench
