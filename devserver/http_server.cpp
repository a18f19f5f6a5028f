#include "http_server.hpp"

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <stdexcept>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

namespace mrt::devserver {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(120);
// What a refused request may still send after its answer, read and dropped before closing.
constexpr std::size_t kMaxLingerBytes = 8 << 20;

http::response<http::string_body> to_http(const Response& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "mrt-devserver");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::access_control_allow_origin, "*");
  res.set(http::field::access_control_allow_methods, "GET, POST, PUT, DELETE, OPTIONS");
  res.set(http::field::access_control_allow_headers,
          "X-Requested-With, Content-Type, Authorization, Date");
  res.keep_alive(keep_alive);
  res.body() = to_wire(r.body);
  res.prepare_payload();
  return res;
}

}  // namespace

struct HttpServer::Impl {
  Impl(Homeserver& hs, HttpOptions opts)
      : homeserver(hs), options(std::move(opts)), acceptor(io), signals(io) {
    beast::error_code ec;
    const auto address = asio::ip::make_address(options.host, ec);
    if (ec) throw std::runtime_error("bad listen address " + options.host + ": " + ec.message());
    const tcp::endpoint endpoint{address, options.port};
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + options.host + ":" +
                               std::to_string(options.port) + ": " + ec.message());
    }
  }

  Homeserver& homeserver;
  HttpOptions options;
  asio::io_context io{1};
  tcp::acceptor acceptor;
  asio::signal_set signals;
  // Waiting syncs, by user: a wake-up cancels their timers.
  std::multimap<std::string, asio::steady_timer*> waiting;

  void wake(const std::set<std::string>& users) {
    for (const auto& u : users) {
      auto [first, last] = waiting.equal_range(u);
      for (auto it = first; it != last; ++it) it->second->cancel();
    }
  }

  // Commits a reply's writes on the store's writer thread and resumes here once durable.
  awaitable<void> commit(Reply& reply) {
    struct Pending {
      explicit Pending(asio::io_context& io) : timer(io) {}
      asio::steady_timer timer;
      bool done = false;
      std::exception_ptr error;
    };
    auto pending = std::make_shared<Pending>(io);
    pending->timer.expires_at(asio::steady_timer::time_point::max());
    auto changes = reply.changes;
    homeserver.env().write([changes](store::WriteTxn& txn) { changes->apply(txn); },
                           [this, pending](std::exception_ptr e) {
                             asio::post(io, [pending, e] {
                               pending->error = e;
                               pending->done = true;
                               pending->timer.cancel();
                             });
                           });
    while (!pending->done) {
      beast::error_code ec;
      co_await pending->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (pending->error) std::rethrow_exception(pending->error);
    homeserver.mark_durable(reply.position);
    wake(reply.wake);
  }

  // Answers one request: dispatch, long-poll if asked to, persist, then the response.
  awaitable<Response> answer(const Request& request) {
    Outcome outcome = homeserver.handle(request);
    while (auto* wait = std::get_if<SyncWait>(&outcome)) {
      asio::steady_timer timer(io);
      timer.expires_at(wait->deadline);
      auto entry = waiting.emplace(wait->user, &timer);
      beast::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      waiting.erase(entry);
      const bool last_try = std::chrono::steady_clock::now() >= wait->deadline;
      outcome = homeserver.resume_sync(*wait, last_try);
    }
    Reply& reply = std::get<Reply>(outcome);
    if (reply.changes) {
      if (reply.answer_after_commit) {
        try {
          co_await commit(reply);
        } catch (const std::exception& e) {
          co_return error_response(500, "M_UNKNOWN", std::string("storage failure: ") + e.what());
        }
      } else {
        // The reply does not depend on these writes (a sync's clean-up): commit meanwhile.
        Response response = reply.response;
        asio::co_spawn(
            io,
            [this, r = std::make_shared<Reply>(std::move(reply))]() -> awaitable<void> {
              try {
                co_await commit(*r);
              } catch (const std::exception& e) {
                std::cerr << "mrt serve: storage failure: " << e.what() << "\n";
              }
            },
            asio::detached);
        co_return response;
      }
    }
    co_return reply.response;
  }

  // A close with unread bytes in the socket's buffer sends a reset, which may discard the
  // answer before the client reads it (a client still writing a refused 2 MiB body). So the
  // answer is followed by a half-close, and what the client still sends is read and dropped,
  // within bounds, before the socket closes.
  static awaitable<void> linger(beast::tcp_stream& stream) {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    std::array<char, 16 * 1024> sink{};
    std::size_t drained = 0;
    stream.expires_after(std::chrono::seconds(2));
    while (drained < kMaxLingerBytes) {
      const std::size_t n = co_await stream.async_read_some(
          asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      drained += n;
    }
  }

  awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options.max_body_bytes);
      parser.header_limit(16 * 1024);
      beast::error_code ec;
      stream.expires_after(kIdleTimeout);
      co_await http::async_read(stream, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::connection_reset || ec == asio::error::eof) {
        break;
      }
      if (ec) {
        // Too large, or not HTTP: answer once, then close (the stream is out of step).
        const bool too_large = ec == http::error::body_limit || ec == http::error::header_limit;
        Response r = too_large ? error_response(413, "M_TOO_LARGE", "request too large")
                               : error_response(400, "M_UNRECOGNIZED", "bad HTTP request");
        auto res = to_http(r, 11, false);
        stream.expires_after(std::chrono::seconds(10));
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        co_await linger(stream);
        co_return;
      }
      stream.expires_never();
      const auto& req = parser.get();
      const auto started = std::chrono::steady_clock::now();
      Request request{std::string(req.method_string()), std::string(req.target()),
                      std::string(req[http::field::authorization]), req.body(),
                      std::string(req[http::field::host])};
      Response response = co_await answer(request);
      if (options.log_requests) {
        const auto ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                .count();
        const std::string path = request.target.substr(0, request.target.find('?'));
        std::cerr << "mrt serve: " << request.method << " " << path << " " << response.status << " "
                  << static_cast<long>(ms) << "ms\n";
      }
      auto res = to_http(response, req.version(), req.keep_alive());
      stream.expires_after(kIdleTimeout);
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !res.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  awaitable<void> accept_loop() {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket =
          co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) continue;
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }
};

HttpServer::HttpServer(Homeserver& homeserver, HttpOptions options)
    : impl_(std::make_unique<Impl>(homeserver, std::move(options))) {}

HttpServer::~HttpServer() = default;

std::uint16_t HttpServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void HttpServer::run() {
  if (impl_->options.handle_signals) {
    impl_->signals.add(SIGINT);
    impl_->signals.add(SIGTERM);
    impl_->signals.async_wait([this](const beast::error_code& ec, int) {
      if (!ec) stop();
    });
  }
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->io.run();
}

void HttpServer::stop() {
  asio::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
    impl->signals.cancel(ignored);
    impl->io.stop();
  });
}

}  // namespace mrt::devserver
