// A TCP proxy between nodes and their homeserver that misbehaves on command, for the fault soak
// (bench/fault_soak.cpp): it forwards bytes both ways, or delays every chunk the homeserver sends,
// or cuts connections, or answers every request with 429 (M_LIMIT_EXCEEDED) or 502 itself.
// Switching to a cutting or answering fault also cuts the connections already open, so that
// keep-alive connections and long polls meet it at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <thread>

namespace mrt::bench {

enum class ProxyFault { none, delay, drop, too_many_requests, bad_gateway };
const char* to_string(ProxyFault fault);

class FaultProxy {
 public:
  // Listens on a free port of 127.0.0.1 and forwards to `upstream_url` (http://127.0.0.1:PORT).
  // Throws std::runtime_error when it cannot.
  explicit FaultProxy(const std::string& upstream_url);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::string base_url() const;
  void set_fault(ProxyFault fault);
  // Connections cut and requests answered by the proxy itself, since it started.
  std::uint64_t faults_applied() const { return applied_; }

 private:
  struct Connection {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void accept_loop();
  void serve(int client);
  void answer_with_fault(int client, ProxyFault fault);

  int listener_ = -1;
  std::uint16_t port_ = 0, upstream_port_ = 0;
  std::atomic<ProxyFault> fault_{ProxyFault::none};
  std::atomic<std::uint64_t> cut_generation_{0}, applied_{0};
  std::atomic<bool> stopping_{false};
  std::mutex connections_mutex_;
  std::list<Connection> connections_;
  std::thread acceptor_;
};

}  // namespace mrt::bench
