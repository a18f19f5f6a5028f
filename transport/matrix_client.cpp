#include "matrix_client.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>

#include <sodium.h>

#include <mrt/bytes.hpp>
#include <mrt/matrix_identity.hpp>

#include "core/sodium_init.hpp"

namespace mrt::transport {

using json = nlohmann::json;
using std::chrono::milliseconds;

namespace {

const std::string kApi = "/_matrix/client/v3";

MatrixCall make(std::string method, const std::string& path, std::optional<json> body,
                bool idempotent = true) {
  MatrixCall c;
  c.method = std::move(method);
  c.path = kApi + path;
  c.body = std::move(body);
  c.idempotent = idempotent;
  return c;
}

}  // namespace

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

std::string new_transaction_id() {
  detail::ensure_sodium();
  std::uint8_t bytes[16];
  randombytes_buf(bytes, sizeof bytes);
  return "mrt" + to_hex(ByteView(bytes, sizeof bytes));
}

namespace calls {

MatrixCall whoami() {
  return make("GET", "/account/whoami", std::nullopt);
}

MatrixCall sync(const std::string& since, std::int64_t timeout_ms, const std::string& filter) {
  std::string path = "/sync?timeout=" + std::to_string(std::max<std::int64_t>(timeout_ms, 0));
  if (!since.empty()) path += "&since=" + url_encode(since);
  if (!filter.empty()) path += "&filter=" + url_encode(filter);
  MatrixCall c = make("GET", path, std::nullopt);
  c.long_poll = milliseconds(std::max<std::int64_t>(timeout_ms, 0));
  c.drop_oversized = OversizedElements{{"to_device", "events"}, kMaxToDeviceEventBytes};
  return c;
}

MatrixCall send_to_device(const std::string& type, const std::string& txn_id,
                          const json& messages) {
  return make("PUT", "/sendToDevice/" + url_encode(type) + "/" + url_encode(txn_id),
              json{{"messages", messages}});
}

MatrixCall send_room_event(const std::string& room_id, const std::string& type,
                           const std::string& txn_id, const json& content) {
  return make(
      "PUT",
      "/rooms/" + url_encode(room_id) + "/send/" + url_encode(type) + "/" + url_encode(txn_id),
      content);
}

MatrixCall create_room(const json& body) {
  return make("POST", "/createRoom", body, /*idempotent=*/false);
}

MatrixCall join(const std::string& room_id_or_alias) {
  return make("POST", "/join/" + url_encode(room_id_or_alias), json::object());
}

MatrixCall invite(const std::string& room_id, const std::string& user_id) {
  // A repeated invite is refused ("already invited"), so a lost answer is not retried blindly.
  return make("POST", "/rooms/" + url_encode(room_id) + "/invite", json{{"user_id", user_id}},
              /*idempotent=*/false);
}

MatrixCall leave(const std::string& room_id) {
  return make("POST", "/rooms/" + url_encode(room_id) + "/leave", json::object());
}

MatrixCall room_state(const std::string& room_id) {
  MatrixCall c = make("GET", "/rooms/" + url_encode(room_id) + "/state", std::nullopt);
  c.array_answer = true;
  return c;
}

MatrixCall room_state_event(const std::string& room_id, const std::string& type,
                            const std::string& state_key) {
  return make(
      "GET",
      "/rooms/" + url_encode(room_id) + "/state/" + url_encode(type) + "/" + url_encode(state_key),
      std::nullopt);
}

MatrixCall presence(const std::string& user_id) {
  return make("GET", "/presence/" + url_encode(user_id) + "/status", std::nullopt);
}

MatrixCall set_presence(const std::string& user_id, const std::string& presence) {
  return make("PUT", "/presence/" + url_encode(user_id) + "/status", json{{"presence", presence}});
}

MatrixCall displayname(const std::string& user_id) {
  return make("GET", "/profile/" + url_encode(user_id) + "/displayname", std::nullopt);
}

MatrixCall set_displayname(const std::string& user_id, const std::string& displayname) {
  return make("PUT", "/profile/" + url_encode(user_id) + "/displayname",
              json{{"displayname", displayname}});
}

MatrixCall avatar_url(const std::string& user_id) {
  return make("GET", "/profile/" + url_encode(user_id) + "/avatar_url", std::nullopt);
}

MatrixCall set_avatar_url(const std::string& user_id, const std::string& url) {
  return make("PUT", "/profile/" + url_encode(user_id) + "/avatar_url", json{{"avatar_url", url}});
}

MatrixCall user_directory_search(const std::string& term, std::size_t limit) {
  return make("POST", "/user_directory/search", json{{"search_term", term}, {"limit", limit}});
}

MatrixCall devices() {
  return make("GET", "/devices", std::nullopt);
}

MatrixCall delete_device(const std::string& device_id, const std::optional<json>& auth) {
  return make("DELETE", "/devices/" + url_encode(device_id),
              auth ? json{{"auth", *auth}} : json::object());
}

MatrixCall versions() {
  MatrixCall c;
  c.method = "GET";
  c.path = "/_matrix/client/versions";
  c.authenticated = false;
  return c;
}

MatrixCall login_ethereum(const PrivateKey& key, const std::string& server_name,
                          const std::optional<std::string>& device_id) {
  json body = {{"type", "m.login.password"},
               {"identifier", {{"type", "m.id.user"}, {"user", key.address().to_hex()}}},
               {"password", matrix_identity(key, server_name).password.to_hex()}};
  if (device_id) body["device_id"] = *device_id;
  MatrixCall c = make("POST", "/login", std::move(body), /*idempotent=*/device_id.has_value());
  c.authenticated = false;
  return c;
}

MatrixCall machine_request(const OutgoingRequest& r) {
  switch (r.type) {
    case RequestType::keys_upload:
      return make("POST", "/keys/upload", r.body);
    case RequestType::keys_query:
      return make("POST", "/keys/query", r.body);
    case RequestType::keys_claim:
      // Hands out one-time keys: a lost answer would waste one per retry.
      return make("POST", "/keys/claim", r.body, /*idempotent=*/false);
    case RequestType::to_device:
      return make("PUT", "/sendToDevice/" + url_encode(r.event_type) + "/" + url_encode(r.id),
                  r.body);
  }
  throw std::invalid_argument("matrix client: a machine request of no known type");
}

MatrixCall request(const std::string& method, const std::string& path, const json& body) {
  MatrixCall c;
  c.method = method;
  c.path = path;
  if (method != "GET" || !body.empty()) c.body = body;
  return c;
}

}  // namespace calls

struct MatrixClient::State {
  HttpIo& io;
  MatrixClientOptions options;
  mutable std::mutex mutex;  // guards the session fields
  std::string access_token;
  std::string user_id;
  std::string device_id;
  std::atomic<std::uint64_t> rate_limited_waits{0};
  std::atomic<std::uint64_t> backoff_retries{0};
  std::atomic<std::uint64_t> oversized_dropped{0};

  State(HttpIo& i, MatrixClientOptions o) : io(i), options(std::move(o)) {
    while (!options.base_url.empty() && options.base_url.back() == '/') options.base_url.pop_back();
  }
  ~State() { sodium_memzero(access_token.data(), access_token.size()); }
};

namespace {

// One logical call across its retries: the same method, URL and body every time.
struct Attempt {
  std::shared_ptr<MatrixClient::State> state;
  HttpRequest request;
  bool idempotent = true;
  bool authenticated = true;
  bool array_answer = false;
  int failures = 0;      // no answer, or 5xx
  int rate_limited = 0;  // 429s waited out
  MatrixClient::Callback done;
};

// Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): uniform in
// [0, min(cap, base * 2^retry)], so that clients that failed together do not retry together.
milliseconds backoff(const MatrixClientOptions& o, int retry) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const auto ceiling =
      std::min<std::int64_t>(o.backoff_cap.count(), o.backoff_base.count() << std::min(retry, 20));
  std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(ceiling, 0));
  return milliseconds(pick(rng));
}

void send(const std::shared_ptr<Attempt>& a, milliseconds delay);

MatrixError no_answer(const HttpResponse& r) {
  MatrixError e;
  switch (r.failure) {
    case HttpFailure::timeout:
      e.kind = MatrixErrorKind::timeout;
      break;
    case HttpFailure::cancelled:
      e.kind = MatrixErrorKind::cancelled;
      break;
    case HttpFailure::too_large:
      e.kind = MatrixErrorKind::too_large;
      break;
    default:
      e.kind = MatrixErrorKind::network;
      break;
  }
  e.error = r.error;
  return e;
}

void on_answer(const std::shared_ptr<Attempt>& a, const HttpResponse& r) {
  const MatrixClientOptions& o = a->state->options;
  a->state->oversized_dropped += r.elements_dropped;
  if (r.failure != HttpFailure::none) {
    const bool retryable = r.failure == HttpFailure::network || r.failure == HttpFailure::timeout;
    // A refused connection never reached the server: any call may be sent again.
    if (retryable && (a->idempotent || r.connect_failed) && ++a->failures < o.max_attempts) {
      ++a->state->backoff_retries;
      send(a, backoff(o, a->failures - 1));
      return;
    }
    a->done(fail(no_answer(r)));
    return;
  }
  MatrixResult result = parse_matrix_response(r.status, r.headers, r.body, a->array_answer);
  if (result) {
    a->done(std::move(result));
    return;
  }
  const MatrixError& e = result.error();
  if (r.status == 429 && a->rate_limited < o.max_rate_limited_retries &&
      (!e.retry_after_ms || milliseconds(*e.retry_after_ms) <= o.max_retry_after)) {
    // Without a retry_after_ms the server gave no hint: back off as after an error.
    const milliseconds wait =
        e.retry_after_ms ? milliseconds(*e.retry_after_ms) : backoff(o, a->rate_limited);
    ++a->rate_limited;
    ++a->state->rate_limited_waits;
    send(a, wait);
    return;
  }
  // 501 and 505 will not change on a retry; other 5xx (proxies, restarts, overload) may.
  if (r.status >= 500 && r.status != 501 && r.status != 505 && a->idempotent &&
      ++a->failures < o.max_attempts) {
    ++a->state->backoff_retries;
    send(a, backoff(o, a->failures - 1));
    return;
  }
  a->done(std::move(result));
}

void send(const std::shared_ptr<Attempt>& a, milliseconds delay) {
  HttpRequest r = a->request;
  r.delay = delay;
  if (a->authenticated) {
    std::lock_guard lock(a->state->mutex);
    // Taken at each attempt: a login between retries makes them use the new token.
    if (!a->state->access_token.empty())
      r.headers.push_back("Authorization: Bearer " + a->state->access_token);
  }
  a->state->io.submit(std::move(r), [a](const HttpResponse& answer) { on_answer(a, answer); });
}

}  // namespace

MatrixClient::MatrixClient(HttpIo& io, MatrixClientOptions options)
    : state_(std::make_shared<State>(io, std::move(options))) {}

MatrixClient::~MatrixClient() = default;

void MatrixClient::call(MatrixCall c, Callback done) {
  auto a = std::make_shared<Attempt>();
  a->state = state_;
  a->idempotent = c.idempotent;
  a->array_answer = c.array_answer;
  a->authenticated = c.authenticated;
  a->done = std::move(done);
  HttpRequest& r = a->request;
  r.method = c.method;
  r.url = state_->options.base_url + c.path;
  r.timeout = c.timeout.count() > 0 ? c.timeout : state_->options.request_timeout;
  if (c.long_poll.count() > 0) r.timeout = c.long_poll + state_->options.sync_margin;
  r.headers.push_back("Accept: application/json");
  r.drop_oversized = std::move(c.drop_oversized);
  if (c.body) {
    r.headers.push_back("Content-Type: application/json");
    // Invalid UTF-8 in a string is replaced, not thrown: the server would refuse it anyway.
    r.body = c.body->dump(-1, ' ', false, json::error_handler_t::replace);
  }
  send(a, milliseconds(0));
}

std::future<MatrixResult> MatrixCaller::call(MatrixCall c) {
  auto promise = std::make_shared<std::promise<MatrixResult>>();
  auto future = promise->get_future();
  call(std::move(c), [promise](MatrixResult r) { promise->set_value(std::move(r)); });
  return future;
}

void MatrixClient::login_ethereum(const PrivateKey& key, const std::string& server_name,
                                  const std::optional<std::string>& device_id, LoginCallback done) {
  std::weak_ptr<State> weak = state_;
  call(calls::login_ethereum(key, server_name, device_id),
       [done = std::move(done), weak,
        expected = matrix_user_id(key.address(), server_name)](MatrixResult r) {
         if (!r) return done(fail(r.error()));
         const json& j = *r;
         auto text = [&](const char* field) -> const std::string* {
           auto it = j.find(field);
           return it != j.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
         };
         const std::string *token = text("access_token"), *device = text("device_id"),
                           *user = text("user_id");
         if (!token || token->empty() || !device || device->empty() || !user) {
           return done(fail(MatrixError{MatrixErrorKind::bad_response, 200, "",
                                        "login answer without access_token, device_id or user_id",
                                        std::nullopt, ""}));
         }
         if (*user != expected) {
           return done(fail(MatrixError{MatrixErrorKind::bad_response, 200, "",
                                        "login answered for another user id", std::nullopt, ""}));
         }
         if (auto s = weak.lock()) {
           std::lock_guard lock(s->mutex);
           sodium_memzero(s->access_token.data(), s->access_token.size());
           s->access_token = *token;
           s->user_id = *user;
           s->device_id = *device;
         }
         done(LoginInfo{*user, *device});
       });
}

std::future<Result<LoginInfo, MatrixError>> MatrixCaller::login_ethereum(
    const PrivateKey& key, const std::string& server_name,
    const std::optional<std::string>& device_id) {
  auto promise = std::make_shared<std::promise<Result<LoginInfo, MatrixError>>>();
  auto future = promise->get_future();
  login_ethereum(key, server_name, device_id,
                 [promise](Result<LoginInfo, MatrixError> r) { promise->set_value(std::move(r)); });
  return future;
}

std::string MatrixClient::user_id() const {
  std::lock_guard lock(state_->mutex);
  return state_->user_id;
}

std::string MatrixClient::device_id() const {
  std::lock_guard lock(state_->mutex);
  return state_->device_id;
}

MatrixClientStats MatrixClient::stats() const {
  return {state_->rate_limited_waits.load(), state_->backoff_retries.load(),
          state_->oversized_dropped.load()};
}

bool MatrixClient::logged_in() const {
  std::lock_guard lock(state_->mutex);
  return !state_->access_token.empty();
}

}  // namespace mrt::transport
