// transport/http_io.hpp (internal): HTTP over one I/O thread running a libcurl multi handle.
//
// Any thread submits requests; the I/O thread runs them concurrently (a sync long-poll beside
// sends), reusing keep-alive connections from the multi handle's pool, and completes each one
// exactly once: with the server's answer, or with a failure saying why there is none.
//
//   mrt::transport::HttpIo io;
//   io.submit({.method = "GET", .url = "http://127.0.0.1:8008/_matrix/client/versions"},
//             [](mrt::transport::HttpResponse r) { /* on the I/O thread: must not block */ });
//   mrt::transport::HttpResponse r = io.submit({...}).get();  // or wait on a future
//
// Callbacks run on the I/O thread and must not block it (no waiting on futures of this HttpIo,
// no disk fsync): they may submit further requests. shutdown() (and the destructor) completes
// every request still queued, delayed or in flight with `cancelled`, then joins the thread; a
// request submitted after that is completed at once, on the submitting thread, with `cancelled`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "oversized_element_filter.hpp"

namespace mrt::transport {

struct HttpRequest {
  std::string method = "GET";        // GET, POST, PUT, DELETE
  std::string url;                   // absolute: http(s)://host:port/path?query
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent for POST and PUT (and any method when not empty)
  std::chrono::milliseconds timeout{30000};  // the whole exchange, connection included
  std::chrono::milliseconds delay{0};        // start no earlier than this from submission
  // Elements of this array over their size are dropped as the answer streams in, before the
  // answer's cap counts them (HttpResponse::elements_dropped says how many).
  std::optional<OversizedElements> drop_oversized;
};

enum class HttpFailure : int {
  none = 0,       // the server answered (any status)
  network = 1,    // no answer: refused, reset, DNS, TLS, the server went away mid-request
  timeout = 2,    // no complete answer within the request's timeout
  cancelled = 3,  // shutdown came first
  too_large = 4,  // the request body, or the answer, exceeds its cap
};
std::string_view to_string(HttpFailure f);

struct HttpResponse {
  HttpFailure failure = HttpFailure::none;
  long status = 0;  // meaningful when failure == none
  // Names lowercased; the final response's headers only (not those of a 100 Continue).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string error;  // libcurl's reason when failure != none (never holds request headers)
  // libcurl could not even connect: the request surely did not reach the server.
  bool connect_failed = false;
  std::size_t elements_dropped = 0;  // by the request's drop_oversized

  const std::string* header(std::string_view lowercase_name) const;
};

struct HttpIoOptions {
  std::size_t max_request_body = 1 << 20;       // larger bodies fail with too_large unsent
  std::size_t max_response_body = 16 << 20;     // a longer answer is cut off: too_large
  std::size_t max_response_headers = 64 << 10;  // sum of the header lines' sizes
  std::chrono::milliseconds connect_timeout{10000};
  long max_connections_per_host = 8;  // beyond it, requests wait for a free connection
};

struct HttpIoStats {
  std::uint64_t completed = 0;           // requests completed, any outcome
  std::uint64_t connections_opened = 0;  // new TCP connections: the rest reused keep-alive ones
};

class HttpIo {
 public:
  using Callback = std::function<void(HttpResponse)>;

  explicit HttpIo(HttpIoOptions options = {});
  ~HttpIo();
  HttpIo(const HttpIo&) = delete;
  HttpIo& operator=(const HttpIo&) = delete;

  // Thread-safe. `done` runs exactly once, on the I/O thread (or inline after shutdown).
  void submit(HttpRequest request, Callback done);
  std::future<HttpResponse> submit(HttpRequest request);

  // Cancels everything pending and joins the I/O thread. Idempotent; not from a callback.
  void shutdown();

  HttpIoStats stats() const;
  bool on_io_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  struct Shared;
  std::unique_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace mrt::transport
