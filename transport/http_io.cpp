#include "http_io.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <curl/curl.h>
#include <map>
#include <mutex>
#include <stdexcept>

namespace mrt::transport {

using Clock = std::chrono::steady_clock;

std::string_view to_string(HttpFailure f) {
  switch (f) {
    case HttpFailure::none:
      return "none";
    case HttpFailure::network:
      return "network";
    case HttpFailure::timeout:
      return "timeout";
    case HttpFailure::cancelled:
      return "cancelled";
    case HttpFailure::too_large:
      return "too_large";
  }
  return "unknown";
}

const std::string* HttpResponse::header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers)
    if (name == lowercase_name) return &value;
  return nullptr;
}

namespace {

// A request waiting for its start time or for the I/O thread.
struct Pending {
  HttpRequest request;
  HttpIo::Callback done;
  Clock::time_point due;
};

// One easy handle in flight. The request body lives here: libcurl reads it without a copy.
struct Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;
  HttpIo::Callback done;
  HttpResponse response;
  std::size_t header_bytes = 0;
  std::size_t max_body = 0;
  std::size_t max_headers = 0;
  bool too_large = false;
  std::optional<OversizedElementFilter> filter;  // the request's drop_oversized
  char error[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (easy) curl_easy_cleanup(easy);
    if (headers) curl_slist_free_all(headers);
  }
};

HttpResponse failed(HttpFailure failure, std::string error) {
  HttpResponse r;
  r.failure = failure;
  r.error = std::move(error);
  return r;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (t.filter) {
    t.filter->feed({data, n}, t.response.body);
    t.response.elements_dropped = t.filter->dropped();
  } else if (t.response.body.size() + n <= t.max_body) {
    t.response.body.append(data, n);
  } else {
    t.too_large = true;
  }
  if (t.response.body.size() > t.max_body) t.too_large = true;
  return t.too_large ? 0 : n;  // 0: libcurl aborts the transfer with CURLE_WRITE_ERROR
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  t.header_bytes += n;
  if (t.header_bytes > t.max_headers) {
    t.too_large = true;
    return 0;
  }
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  // Each status line starts a new response (after a 100 Continue): keep the last one's headers.
  if (line.starts_with("HTTP/")) {
    t.response.headers.clear();
    return n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  t.response.headers.emplace_back(std::move(name), std::string(value));
  return n;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
  });
}

}  // namespace

struct HttpIo::Shared {
  HttpIoOptions options;
  CURLM* multi = nullptr;

  std::mutex mutex;  // guards queue, stopping, stopped
  std::vector<Pending> queue;
  bool stopping = false;  // the loop is asked to end
  bool stopped = false;   // the loop ended: submit() completes inline

  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> connections{0};

  // I/O thread only.
  std::multimap<Clock::time_point, Pending> delayed;
  std::map<CURL*, std::unique_ptr<Transfer>> active;

  void run();
  void start(Pending p);
  void finish_done();
  void cancel_all();
  void complete(HttpIo::Callback& done, HttpResponse response) {
    ++completed;
    done(std::move(response));
  }
};

void HttpIo::Shared::start(Pending p) {
  if (p.request.body.size() > options.max_request_body) {
    complete(p.done, failed(HttpFailure::too_large, "request body exceeds the cap"));
    return;
  }
  auto t = std::make_unique<Transfer>();
  t->easy = curl_easy_init();
  if (!t->easy) {
    complete(p.done, failed(HttpFailure::network, "curl_easy_init failed"));
    return;
  }
  t->done = std::move(p.done);
  t->body = std::move(p.request.body);
  t->max_body = options.max_response_body;
  t->max_headers = options.max_response_headers;
  if (p.request.drop_oversized) t->filter.emplace(*p.request.drop_oversized);
  CURL* e = t->easy;
  const HttpRequest& r = p.request;
  curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(r.timeout, options.connect_timeout).count()));
  // A filtered answer may be longer on the wire than kept: only what is kept counts (on_body).
  if (!t->filter) {
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(options.max_response_body));
  }
  if (r.method == "GET" && t->body.empty()) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    if (r.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    if (!t->body.empty() || r.method == "POST" || r.method == "PUT") {
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
    }
  }
  // No "Expect: 100-continue" round trip before bodies: the server answers at once anyway.
  t->headers = curl_slist_append(t->headers, "Expect:");
  for (const auto& h : r.headers) t->headers = curl_slist_append(t->headers, h.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  if (curl_multi_add_handle(multi, e) != CURLM_OK) {
    complete(t->done, failed(HttpFailure::network, "curl_multi_add_handle failed"));
    return;
  }
  active.emplace(e, std::move(t));
}

void HttpIo::Shared::finish_done() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* e = msg->easy_handle;
    const CURLcode code = msg->data.result;
    auto it = active.find(e);
    if (it == active.end()) continue;
    std::unique_ptr<Transfer> t = std::move(it->second);
    active.erase(it);
    curl_multi_remove_handle(multi, e);
    long opened = 0;
    if (curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK && opened > 0)
      connections += static_cast<std::uint64_t>(opened);
    HttpResponse& r = t->response;
    if (code == CURLE_OK) {
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
    } else {
      r.error = t->error[0] ? t->error : curl_easy_strerror(code);
      if (t->too_large || code == CURLE_FILESIZE_EXCEEDED) {
        r.failure = HttpFailure::too_large;
      } else if (code == CURLE_OPERATION_TIMEDOUT) {
        r.failure = HttpFailure::timeout;
      } else {
        r.failure = HttpFailure::network;
        r.connect_failed = code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST;
      }
      r.status = 0;
      r.body.clear();
      r.headers.clear();
    }
    complete(t->done, std::move(r));
  }
}

void HttpIo::Shared::run() {
  for (;;) {
    std::vector<Pending> incoming;
    bool stop = false;
    {
      std::lock_guard lock(mutex);
      stop = stopping;
      if (!stop) incoming.swap(queue);  // when stopping, cancel_all() takes the queue
    }
    if (stop) break;
    const auto now = Clock::now();
    for (auto& p : incoming) {
      if (p.due <= now) {
        start(std::move(p));
      } else {
        delayed.emplace(p.due, std::move(p));
      }
    }
    while (!delayed.empty() && delayed.begin()->first <= now) {
      Pending p = std::move(delayed.begin()->second);
      delayed.erase(delayed.begin());
      start(std::move(p));
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    finish_done();
    // Sleep until a socket is ready, a submit() wakes us, libcurl's own timers (capped by
    // curl_multi_poll) or the next delayed request is due.
    auto wait = std::chrono::milliseconds(1000);
    if (!delayed.empty()) {
      wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(delayed.begin()->first -
                                                                         Clock::now()));
      wait = std::max(wait, std::chrono::milliseconds(0));
    }
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait.count()), nullptr);
  }
  cancel_all();
}

void HttpIo::Shared::cancel_all() {
  std::vector<Pending> incoming;
  {
    std::lock_guard lock(mutex);
    stopped = true;  // from now on submit() completes inline, so nothing new lands in the queue
    incoming.swap(queue);
  }
  auto transfers = std::move(active);
  active.clear();
  for (auto& [e, t] : transfers) {
    curl_multi_remove_handle(multi, e);
    complete(t->done, failed(HttpFailure::cancelled, "shut down"));
  }
  auto waiting = std::move(delayed);
  delayed.clear();
  for (auto& [due, p] : waiting) complete(p.done, failed(HttpFailure::cancelled, "shut down"));
  for (auto& p : incoming) complete(p.done, failed(HttpFailure::cancelled, "shut down"));
}

HttpIo::HttpIo(HttpIoOptions options) : shared_(std::make_unique<Shared>()) {
  global_init();
  shared_->options = options;
  shared_->multi = curl_multi_init();
  if (!shared_->multi) throw std::runtime_error("curl_multi_init failed");
  curl_multi_setopt(shared_->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    options.max_connections_per_host);
  thread_ = std::thread([s = shared_.get()] { s->run(); });
}

HttpIo::~HttpIo() {
  shutdown();
  curl_multi_cleanup(shared_->multi);
}

void HttpIo::submit(HttpRequest request, Callback done) {
  Pending p{std::move(request), std::move(done), {}};
  p.due = Clock::now() + p.request.delay;
  {
    std::unique_lock lock(shared_->mutex);
    if (!shared_->stopped) {
      shared_->queue.push_back(std::move(p));
      curl_multi_wakeup(shared_->multi);
      return;
    }
  }
  shared_->complete(p.done, failed(HttpFailure::cancelled, "shut down"));
}

std::future<HttpResponse> HttpIo::submit(HttpRequest request) {
  auto promise = std::make_shared<std::promise<HttpResponse>>();
  auto future = promise->get_future();
  submit(std::move(request), [promise](HttpResponse r) { promise->set_value(std::move(r)); });
  return future;
}

void HttpIo::shutdown() {
  if (on_io_thread()) throw std::logic_error("HttpIo::shutdown from its own I/O thread");
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
    if (!shared_->stopped) curl_multi_wakeup(shared_->multi);
  }
  if (thread_.joinable()) thread_.join();
}

HttpIoStats HttpIo::stats() const {
  return {shared_->completed.load(), shared_->connections.load()};
}

}  // namespace mrt::transport
