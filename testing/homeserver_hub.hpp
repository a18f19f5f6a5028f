// `HomeserverHub`: dev homeservers (devserver/homeserver.hpp, the server `mrt serve` runs) in the
// test's own process, on a virtual clock, answering node workers that the test runs itself
// (NodeWorker::start_driven). No socket, no thread, no fsync: a scenario that takes seconds of
// resends and timeouts against `mrt serve` runs in milliseconds, and the same each time.
//
// Servers added one by one do not federate: a node reaches a peer there only on a server where
// both have an account (multi-homing). Servers added together as a federation share one state
// (devserver Config::also_serves): a user on one messages, invites and looks up a user on
// another, and a room is one room for all, with none of federation's lag or partial replication
// (that is tested on two Synapses).
//
// Faults are injected per request path: a request may be lost (answered 200 and never applied:
// the server never saw it), refused with a status, or applied late (answered 200 at once). A
// server may go down: every call to it and every /sync waiting on it gets no answer (a refused
// connection), and a call through another server of its federation that must ask it (a profile
// or alias of it) is answered 502 as Synapse does. It comes back restarted from its store, or,
// in a federation whose other servers are still up, with the state they kept.
//
//   HomeserverHub hub(dir);
//   hub.add_server("hs.test");                  // or hub.add_federation({"a.test", "b.test"})
//   auto caller = hub.caller("hs.test");        // a transport::MatrixCaller
//   hub.lose_next("/sendToDevice/", 1);
//   hub.clock().advance(2000);                  // virtual ms; then pump() answers long-polls
//   hub.take_down("hs.test");
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "transport/matrix_client.hpp"

namespace mrt::devserver {
class Homeserver;
}

namespace mrt::testing {

// Virtual time: the steady clock of timers and schedules, and the wall clock of envelopes. The
// wall clock starts at the real time, so that what peers outside the hub's clock sign (a raw
// peer's attestation, the homeserver's timestamps) is not in the virtual clock's future.
struct VirtualClock {
  std::int64_t steady_ms = 1'000'000;
  std::int64_t wall_ms = 0;
  void advance(std::int64_t ms) {
    steady_ms += ms;
    wall_ms += ms;
  }
};

class HomeserverHub {
 public:
  explicit HomeserverHub(std::filesystem::path dir);
  ~HomeserverHub();
  HomeserverHub(const HomeserverHub&) = delete;
  HomeserverHub& operator=(const HomeserverHub&) = delete;

  VirtualClock& clock() { return clock_; }
  void add_server(const std::string& server_name);
  void add_federation(const std::vector<std::string>& server_names);

  // A connection to `server_name` for one device: its own access token once logged in.
  std::unique_ptr<transport::MatrixCaller> caller(const std::string& server_name);

  // The next `count` requests whose path contains `path_part` are lost: answered 200 `{}` and
  // never applied.
  void lose_next(const std::string& path_part, int count);
  // The next `count` such requests are answered `status` with `errcode`, not applied.
  void refuse_next(const std::string& path_part, int count, long status, std::string errcode);
  // The next `count` such requests are answered 200 `{}` at once and applied `delay_ms` virtual ms
  // later (by pump()): a to-device message that a federation hands over after the room event
  // sent after it.
  void delay_next(const std::string& path_part, int count, std::int64_t delay_ms);
  std::uint64_t requests(const std::string& path_part) const;

  // Answers longer than `bytes` fail with MatrixErrorKind::too_large, as over HTTP with a capped
  // response body (transport::HttpOptions::max_response_body).
  void cap_answers(std::size_t bytes) { max_answer_bytes_ = bytes; }
  // `server_name` stops answering (see above).
  void take_down(const std::string& server_name);
  // It answers again: accounts, tokens, rooms and queued to-device are as they were.
  void bring_up(const std::string& server_name);

  // Applies the delayed requests that are due, and answers the long-polls that have news (or
  // whose timeout has passed); true if any was.
  bool pump();
  // The earliest virtual time a waiting long-poll times out or a delayed request is due;
  // INT64_MAX when there is none.
  std::int64_t next_deadline() const;

 private:
  friend class HubCaller;
  void forget_waits(const void* caller);
  struct State;
  struct Server {
    State* state = nullptr;
    bool up = true;
  };
  struct Waiting;
  struct Fault {
    std::string path_part;
    int count = 0;
    long status = 200;
    std::string errcode;
    std::int64_t delay_ms = 0;
  };
  struct Delayed {
    std::string server_name, token;
    transport::MatrixCall call;
    std::int64_t due = 0;  // virtual steady ms
  };
  void call(const void* caller, const std::string& server_name, const std::string& token,
            transport::MatrixCall c, transport::MatrixCaller::Callback done);

  std::filesystem::path dir_;
  VirtualClock clock_;
  void open(State& state) const;
  // The down server of another's federation that a request to `server_name` must ask, if any.
  const std::string* must_ask_down_server(const std::string& server_name,
                                          const std::string& path) const;

  std::vector<std::unique_ptr<State>> states_;
  std::map<std::string, Server> servers_;
  std::vector<Waiting> waiting_;
  std::vector<Fault> faults_;
  std::vector<Delayed> delayed_;
  std::size_t max_answer_bytes_ = std::numeric_limits<std::size_t>::max();
  std::map<std::string, std::uint64_t> seen_paths_;
};

}  // namespace mrt::testing
