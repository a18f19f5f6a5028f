#include "counting_proxy.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <stdexcept>
#include <sys/socket.h>
#include <thread>

#include <nlohmann/json.hpp>

namespace mrt::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct CountingProxy::Impl {
  asio::io_context io;  // owns the sockets; never run (every call here blocks)
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  tcp::endpoint upstream;
  std::thread accepting;

  mutable std::mutex mutex;
  bool stopping = false;
  std::vector<int> open_fds;  // shut down by the destructor to end blocking reads
  std::vector<std::thread> sessions;
  std::vector<std::string> paths;
  std::map<std::string, std::size_t> member_events;
  std::size_t largest_sync = 0, largest_device_change = 0;

  void track(int fd) {
    std::lock_guard lock(mutex);
    open_fds.push_back(fd);
  }

  void count_sync(const std::string& body) {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    std::lock_guard lock(mutex);
    largest_sync = std::max(largest_sync, body.size());
    if (!j.is_object()) return;
    if (j.contains("device_lists") && j["device_lists"].contains("changed")) {
      largest_device_change = std::max(largest_device_change, j["device_lists"]["changed"].size());
    }
    if (!j.contains("rooms") || !j["rooms"].contains("join")) return;
    for (const auto& [room_id, room] : j["rooms"]["join"].items()) {
      for (const char* part : {"state", "timeline"}) {
        if (!room.contains(part) || !room[part].contains("events")) continue;
        for (const auto& e : room[part]["events"])
          if (e.value("type", "") == "m.room.member") ++member_events[room_id];
      }
    }
  }

  void session(tcp::socket client) {
    beast::error_code ec;
    tcp::socket server(io);
    server.connect(upstream, ec);
    if (ec) return;
    track(server.native_handle());
    beast::flat_buffer from_client, from_server;
    for (;;) {
      http::request<http::string_body> request;
      http::read(client, from_client, request, ec);
      if (ec) break;
      const std::string target(request.target());
      const std::string path = target.substr(0, target.find('?'));
      {
        std::lock_guard lock(mutex);
        paths.push_back(path);
      }
      http::write(server, request, ec);
      if (ec) break;
      http::response_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      http::read(server, from_server, parser, ec);
      if (ec) break;
      auto response = parser.release();
      if (path.ends_with("/sync")) count_sync(response.body());
      http::write(client, response, ec);
      if (ec || !response.keep_alive()) break;
    }
  }

  void accept_loop() {
    for (;;) {
      beast::error_code ec;
      tcp::socket client(io);
      acceptor.accept(client, ec);
      std::lock_guard lock(mutex);
      if (stopping) return;
      if (ec) continue;
      open_fds.push_back(client.native_handle());
      sessions.emplace_back([this, c = std::move(client)]() mutable { session(std::move(c)); });
    }
  }
};

CountingProxy::CountingProxy(const std::string& upstream) : impl_(std::make_unique<Impl>()) {
  const std::string prefix = "http://";
  const auto colon = upstream.rfind(':');
  if (!upstream.starts_with(prefix) || colon == std::string::npos)
    throw std::invalid_argument("upstream must be http://HOST:PORT");
  impl_->upstream =
      tcp::endpoint(asio::ip::make_address(upstream.substr(prefix.size(), colon - prefix.size())),
                    static_cast<unsigned short>(std::stoi(upstream.substr(colon + 1))));
  impl_->accepting = std::thread([impl = impl_.get()] { impl->accept_loop(); });
}

CountingProxy::~CountingProxy() {
  std::vector<std::thread> sessions;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    // shutdown(2), unlike close, wakes a thread blocked on the socket and leaves the descriptor
    // to its owner.
    ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
    for (int fd : impl_->open_fds) ::shutdown(fd, SHUT_RDWR);
  }
  impl_->accepting.join();
  {
    std::lock_guard lock(impl_->mutex);
    sessions.swap(impl_->sessions);
  }
  for (auto& t : sessions) t.join();
}

std::string CountingProxy::base_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->acceptor.local_endpoint().port());
}

std::size_t CountingProxy::requests_to(std::string_view part) const {
  std::lock_guard lock(impl_->mutex);
  return std::count_if(impl_->paths.begin(), impl_->paths.end(),
                       [&](const std::string& p) { return p.find(part) != std::string::npos; });
}

std::vector<std::string> CountingProxy::paths() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->paths;
}

std::size_t CountingProxy::member_events_synced(const std::string& room_id) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->member_events.find(room_id);
  return it == impl_->member_events.end() ? 0 : it->second;
}

std::size_t CountingProxy::largest_sync_bytes() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->largest_sync;
}

std::size_t CountingProxy::largest_device_list_change() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->largest_device_change;
}

}  // namespace mrt::testing
