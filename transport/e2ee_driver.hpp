// transport/e2ee_driver.hpp (internal): the E2E machine of one home as the node drives it.
//  - /sync's to-device events go to the machine less the Olm pre-key messages over an hourly
//    budget of new sessions: their sender key's, their Matrix user's (which the homeserver
//    authenticates, where the key is the sender's choice) and the node's
//    (Policy::olm_sessions_per_device_per_hour, olm_sessions_per_hour);
//  - the machine's requests on their way to the homeserver: which are in flight, which wait to
//    be tried again, and whose payload each to-device request carries. The carrier is known
//    from the ids the machine's call named (ShareOutcome::requests), never by comparing request
//    lists, so a peer's next payload waits for exactly the requests that hold its last one.
//
// No I/O: the worker sends what due() returns and hands each answer to done(). What the machine
// makes of the answers is written into `answers()`, which rides with the next commit of either
// kind (a to-device request sent again keeps its transaction id, so nothing there is urgent).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <mrt/e2ee_machine.hpp>
#include <mrt/eth.hpp>
#include <mrt/store/changes.hpp>

#include "matrix_response.hpp"
#include "rolling_window.hpp"

namespace mrt::transport {

class E2eeDriver {
 public:
  // A request the server could not take now (no answer, 5xx, 429 past the client's own waits)
  // is sent again after this long.
  static constexpr std::int64_t kRetryMs = 2000;

  // New Olm sessions a pre-key message may open in any rolling hour.
  struct SessionLimits {
    std::size_t per_sender_key = 10;
    std::size_t per_user = 20;
    std::size_t total = 600;
  };
  E2eeDriver(E2eeMachine& machine, SessionLimits limits) : machine_(machine), limits_(limits) {}

  // The machine's part of a /sync answer, its writes into `step`. A pre-key message that would
  // open a session over one of the budgets is dropped unread: counted in `throttled`.
  struct Received {
    SyncOutcome outcome;
    std::uint64_t throttled = 0;
  };
  Received receive(SyncChanges changes, store::Changes& step, std::int64_t now_ms);

  // `peer`'s payload (or the room key it needs) went into these requests.
  void carry(const Address& peer, const std::vector<std::string>& request_ids);
  // Whether a request carrying something for `peer` is still queued or in flight.
  bool holds(const Address& peer) const { return held_.contains(peer); }
  bool holds_any() const { return !held_.empty(); }

  // The queued requests to send now: not in flight, past their retry time.
  std::vector<OutgoingRequest> due(std::int64_t now_ms);
  // `id` is on its way: in flight until done().
  void sending(const std::string& id) { in_flight_.insert(id); }

  enum class Answer {
    sent,     // the machine took the answer
    refused,  // a 4xx other than 401 and 429: marked failed for good, never sent again
    retry,    // sent again after kRetryMs
  };
  Answer done(const std::string& id, const MatrixResult& result, std::int64_t now_ms);

  // The machine's writes from answers, not committed yet.
  store::Changes& answers() { return answers_; }

  // After a failed step: the answers' writes are dropped (the machine reloads what the store
  // holds), and requests it no longer has that are not in flight release their peers.
  void abandon();

 private:
  void release(const std::string& id);

  E2eeMachine& machine_;
  // Admits one more new session of `sender_key` from `user` unless a budget is spent.
  bool admit_session(const std::string& sender_key, const std::string& user, std::int64_t now_ms);

  const SessionLimits limits_;
  // New sessions opened: by sender Curve25519 key, by Matrix user, and all ("").
  RollingWindow by_key_{RollingWindow::kHourMs};
  RollingWindow by_user_{RollingWindow::kHourMs};
  RollingWindow all_{RollingWindow::kHourMs};
  std::int64_t next_prune_ = 0;
  std::map<std::string, Address> carrier_of_;  // to-device request id -> the peer it carries for
  std::map<Address, std::set<std::string>> held_;
  std::set<std::string> in_flight_;
  std::map<std::string, std::int64_t> retry_at_;
  store::Changes answers_;
};

}  // namespace mrt::transport
