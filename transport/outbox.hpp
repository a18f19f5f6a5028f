// transport/outbox.hpp (internal): the messages one home carries until each is acked, expires
// or is settled by another home: their signed envelopes and their resend schedule.
//
// No I/O and no clock of its own: the caller passes the steady time (schedules) and the wall
// time (a message's age counts from its envelope's `ts`). A message is transmitted when added,
// then again after resend_initial, doubling up to resend_max, until max_age has passed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/eth.hpp>

namespace mrt::transport {

// A message written to the outbox.
struct OutboxEntry {
  nlohmann::json envelope;  // signed, sent identically every time
  std::string nonce;
  Address to;
  std::int64_t ts = 0;  // the envelope's, ms since the epoch
};

class Outbox {
 public:
  struct Timing {
    std::int64_t resend_initial_ms = 0;
    std::int64_t resend_max_ms = 0;
    std::int64_t max_age_ms = 0;
  };
  explicit Outbox(Timing timing) : timing_(timing) {}

  // A message whose record is durable; its first transmission happens now.
  void add(OutboxEntry entry, std::int64_t steady_ms);
  const OutboxEntry* find(const std::string& nonce) const;
  // Transmissions so far, the one at add() included; 0 for a message not here.
  int attempts(const std::string& nonce) const;
  // Acked, failed, or settled by another home: nothing more is sent.
  std::optional<OutboxEntry> remove(const std::string& nonce);
  bool empty() const { return entries_.empty(); }
  std::set<Address> recipients() const;

  struct Resend {
    std::string nonce;
    Address to;
    int attempts = 0;  // transmissions before this one
  };
  struct Due {
    std::vector<std::string> expired;  // past ts + max_age: to be reported failed
    std::vector<Resend> resends;       // each rescheduled after its next delay
    std::set<Address> waiting;         // recipients of the messages not expired
  };
  Due due(std::int64_t steady_ms, std::int64_t wall_ms);

 private:
  struct Scheduled {
    OutboxEntry entry;
    std::int64_t next_attempt = 0;  // steady ms
    int attempts = 0;
  };
  std::int64_t delay_after(int attempts) const;

  Timing timing_;
  std::map<std::string, Scheduled> entries_;  // by nonce
};

}  // namespace mrt::transport
