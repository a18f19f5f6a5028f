// The homeserver on a socket: HTTP/1.1 with keep-alive (Boost.Beast on one Asio thread), a cap
// on request bodies, CORS, long-polling syncs woken by the writes that concern them, and each
// reply sent only once its writes are durable. Beast stays inside http_server.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "homeserver.hpp"

namespace mrt::devserver {

struct HttpOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8008;  // 0: any free port (see HttpServer::port)
  std::size_t max_body_bytes = 1 << 20;
  // One line per request on stderr: method, path (no query: it may hold a token), status, time.
  bool log_requests = false;
  // Stop cleanly on SIGINT and SIGTERM.
  bool handle_signals = false;
};

class HttpServer {
 public:
  // Binds and listens; throws std::runtime_error when the address cannot be used.
  HttpServer(Homeserver& homeserver, HttpOptions options);
  ~HttpServer();
  std::uint16_t port() const;
  // Serves until stop() or a signal.
  void run();
  // From any thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mrt::devserver
