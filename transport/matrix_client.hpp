// transport/matrix_client.hpp (internal): the Matrix client-server API over HttpIo.
//
// One MatrixClient is one logged-in device on one homeserver. Calls are values (`MatrixCall`:
// method, path, body, whether a retry is safe); the client adds the access token, sends them on
// the HttpIo's I/O thread and retries what may be retried:
// - 429 M_LIMIT_EXCEEDED: after the server's retry_after_ms (body, else Retry-After header);
// - no answer, a timeout or a 5xx: with exponential backoff and full jitter, up to a limit;
//   only calls that are safe to repeat (GET, PUT with a transaction id, …) unless libcurl could
//   not even connect, so that a createRoom is never made twice;
// - every retry sends the identical request (same path, so the same transaction id).
// The access token is kept inside the client: it never appears in errors or logs.
//
//   HttpIo io;
//   MatrixClient client(io, {.base_url = "http://127.0.0.1:8008"});
//   auto login = client.login_ethereum(key, "localhost").get();   // creates the account
//   auto next = client.sync("", 30000).get();                     // long-poll
//   client.call(calls::send_to_device("m.room.encrypted", txn, messages),
//               [](MatrixResult r) { /* on the I/O thread: must not block */ });
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <mrt/e2ee_machine.hpp>
#include <mrt/eth.hpp>

#include "http_io.hpp"
#include "matrix_response.hpp"

namespace mrt::transport {

struct MatrixCall {
  std::string method;  // GET, POST, PUT, DELETE
  std::string path;    // from the API root on, with %-encoded segments and query
  std::optional<nlohmann::json> body;
  // Safe to send again after an answer may have been lost (the server deduplicates it, or doing
  // it twice is harmless). Not for createRoom, invite, keys/claim.
  bool idempotent = true;
  bool authenticated = true;  // sends the access token
  bool array_answer = false;  // a success is a JSON array (GET /rooms/{id}/state), not an object
  std::chrono::milliseconds timeout{0};  // 0: the client's request_timeout
  // A long-poll (sync): the HTTP timeout is this plus the client's sync_margin.
  std::chrono::milliseconds long_poll{0};
  // Elements of one array of the answer dropped when larger than a limit (HttpRequest's).
  std::optional<OversizedElements> drop_oversized;
};

// Builders of the calls the transport makes (pure: tested and reused without a server).
namespace calls {
MatrixCall whoami();
// `filter`: an inline JSON filter or a filter id; empty for none. `since` empty: initial sync.
// To-device events over kMaxToDeviceEventBytes are dropped from the answer as it streams in: no
// mrt payload comes near (an Olm message is at most 64 KiB), and a homeserver hands over up to 100
// per answer, each up to 12.5 MiB on Synapse, which would keep every answer over the cap.
inline constexpr std::size_t kMaxToDeviceEventBytes = std::size_t{256} * 1024;
MatrixCall sync(const std::string& since, std::int64_t timeout_ms, const std::string& filter = "");
// `messages`: {user_id: {device_id or "*": content}}
MatrixCall send_to_device(const std::string& type, const std::string& txn_id,
                          const nlohmann::json& messages);
MatrixCall send_room_event(const std::string& room_id, const std::string& type,
                           const std::string& txn_id, const nlohmann::json& content);
MatrixCall create_room(const nlohmann::json& body);
MatrixCall join(const std::string& room_id_or_alias);
MatrixCall invite(const std::string& room_id, const std::string& user_id);
MatrixCall leave(const std::string& room_id);
// GET /rooms/{id}/state: every state event (a JSON array).
MatrixCall room_state(const std::string& room_id);
// GET /rooms/{id}/state/{type}/{state_key}: one state event's content.
MatrixCall room_state_event(const std::string& room_id, const std::string& type,
                            const std::string& state_key = "");
MatrixCall presence(const std::string& user_id);
MatrixCall set_presence(const std::string& user_id, const std::string& presence);
MatrixCall displayname(const std::string& user_id);
MatrixCall set_displayname(const std::string& user_id, const std::string& displayname);
// Raiden publishes its capabilities there (include/mrt/capabilities.hpp).
MatrixCall avatar_url(const std::string& user_id);
MatrixCall set_avatar_url(const std::string& user_id, const std::string& url);
MatrixCall user_directory_search(const std::string& term, std::size_t limit);
MatrixCall devices();
// `auth`: the user-interactive auth object, once the server asked for it (401).
MatrixCall delete_device(const std::string& device_id,
                         const std::optional<nlohmann::json>& auth = std::nullopt);
// GET /_matrix/client/versions (unauthenticated; a homeserver's cheapest answer).
MatrixCall versions();
// PROTOCOL §2's login: m.login.password as the address's localpart, password personal_sign(server
// name); `device_id` to stay the same device (only then is it safe to repeat).
MatrixCall login_ethereum(const PrivateKey& key, const std::string& server_name,
                          const std::optional<std::string>& device_id);
// The E2EE machine's request (keys upload, query, claim, to-device) as its endpoint takes it.
MatrixCall machine_request(const OutgoingRequest& request);
// Any endpoint, `path` from "/_matrix" on (tests and tools; idempotent: set it if not).
MatrixCall request(const std::string& method, const std::string& path, const nlohmann::json& body);
}  // namespace calls

// %-encodes one path segment or query value ("!a:b" -> "%21a%3Ab").
std::string url_encode(std::string_view text);
// A fresh transaction id (random, URL-safe) for a new send; reuse it on every retry.
std::string new_transaction_id();

struct MatrixClientOptions {
  std::string base_url;  // "https://matrix.example.org" (no trailing slash needed)
  std::chrono::milliseconds request_timeout{30000};
  // A sync's HTTP timeout is its long-poll timeout plus this.
  std::chrono::milliseconds sync_margin{15000};
  // No answer / 5xx: attempts in all (first included), backoff delays drawn from
  // [0, min(backoff_cap, backoff_base * 2^retry)].
  int max_attempts = 5;
  std::chrono::milliseconds backoff_base{250};
  std::chrono::milliseconds backoff_cap{30000};
  // 429: waits at most this many times, each at most max_retry_after (a longer wait is given
  // up at once and returned as the http error, retry_after_ms included).
  int max_rate_limited_retries = 10;
  std::chrono::milliseconds max_retry_after{60000};
};

// Counts since the client was made (the node's stats will show them).
struct MatrixClientStats {
  std::uint64_t rate_limited_waits = 0;  // 429s waited out before sending again
  std::uint64_t backoff_retries = 0;     // resends after no answer or a 5xx
  std::uint64_t oversized_dropped = 0;   // answers' elements over their call's drop_oversized
};

struct LoginInfo {
  std::string user_id;
  std::string device_id;
};

// What a node's worker needs of its homeserver: calls as values, each answered once (on any
// thread), and the Ethereum login again when its token is revoked. MatrixClient does it over
// HTTP; a test may answer in process.
class MatrixCaller {
 public:
  using Callback = std::function<void(MatrixResult)>;
  using LoginCallback = std::function<void(Result<LoginInfo, MatrixError>)>;

  virtual ~MatrixCaller() = default;
  virtual void call(MatrixCall c, Callback done) = 0;
  virtual void login_ethereum(const PrivateKey& key, const std::string& server_name,
                              const std::optional<std::string>& device_id, LoginCallback done) = 0;

  // The same, to wait for: the answer comes on whatever thread answers (over HTTP, the I/O
  // thread; in process, maybe before they return), so do not wait on that thread.
  std::future<MatrixResult> call(MatrixCall c);
  std::future<Result<LoginInfo, MatrixError>> login_ethereum(
      const PrivateKey& key, const std::string& server_name,
      const std::optional<std::string>& device_id = std::nullopt);
};

class MatrixClient final : public MatrixCaller {
 public:
  // `io` must outlive the client's calls (shut it down first: calls end with `cancelled`).
  MatrixClient(HttpIo& io, MatrixClientOptions options);
  ~MatrixClient();
  MatrixClient(const MatrixClient&) = delete;
  MatrixClient& operator=(const MatrixClient&) = delete;

  using MatrixCaller::call;
  using MatrixCaller::login_ethereum;

  // Thread-safe. `done` runs once, on the I/O thread, after the last retry.
  void call(MatrixCall c, Callback done) override;

  // PROTOCOL §2: m.login.password as the address's localpart, password personal_sign(server
  // name). The first login creates the account. Pass the device id of an earlier login to stay
  // the same device (its keys kept). Stores the token and device id for the calls that follow.
  // Fails with bad_response when the server answers for another user id than @0x…:server_name.
  // `done` runs on the I/O thread (must not block).
  void login_ethereum(const PrivateKey& key, const std::string& server_name,
                      const std::optional<std::string>& device_id, LoginCallback done) override;

  std::future<MatrixResult> whoami() { return call(calls::whoami()); }
  std::future<MatrixResult> sync(const std::string& since, std::int64_t timeout_ms,
                                 const std::string& filter = "") {
    return call(calls::sync(since, timeout_ms, filter));
  }
  std::future<MatrixResult> send_to_device(const std::string& type, const std::string& txn_id,
                                           const nlohmann::json& messages) {
    return call(calls::send_to_device(type, txn_id, messages));
  }
  std::future<MatrixResult> send_room_event(const std::string& room_id, const std::string& type,
                                            const std::string& txn_id,
                                            const nlohmann::json& content) {
    return call(calls::send_room_event(room_id, type, txn_id, content));
  }
  std::future<MatrixResult> create_room(const nlohmann::json& body) {
    return call(calls::create_room(body));
  }
  std::future<MatrixResult> join(const std::string& room) { return call(calls::join(room)); }
  std::future<MatrixResult> invite(const std::string& room_id, const std::string& user_id) {
    return call(calls::invite(room_id, user_id));
  }
  std::future<MatrixResult> request(const std::string& method, const std::string& path,
                                    const nlohmann::json& body) {
    return call(calls::request(method, path, body));
  }

  // Empty before a successful login.
  std::string user_id() const;
  std::string device_id() const;
  bool logged_in() const;
  MatrixClientStats stats() const;

  struct State;  // defined in matrix_client.cpp; public only so that its helpers can name it

 private:
  std::shared_ptr<State> state_;  // shared with calls in flight, which may outlive the client
};

}  // namespace mrt::transport
