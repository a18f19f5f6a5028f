// transport/held_room_events.hpp (internal): DM room events that arrived before their Megolm
// key. The key travels by to-device, which a federation may deliver after the room event that
// needs it; such an event is held and decrypted again once keys arrive, instead of waiting a
// resend interval for the sender's next copy. Bounded, because a peer chooses how many events
// it posts: at most `per_room` per room and `total` in all (the oldest go first), and none
// longer than `max_age_ms`. What is dropped is only delayed: the sender resends until acked.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mrt::transport {

class HeldRoomEvents {
 public:
  struct Held {
    std::string room_id;
    nlohmann::json event;  // as decrypt_room_event takes it (with its room_id)
    std::int64_t since_ms = 0;
  };

  HeldRoomEvents(std::size_t per_room, std::size_t total, std::int64_t max_age_ms)
      : per_room_(per_room), total_(total), max_age_ms_(max_age_ms) {}

  // Holds `event`; returns how many older events were dropped to make room for it.
  std::size_t hold(Held held) {
    std::size_t dropped = 0;
    if (count(held.room_id) >= per_room_) dropped += drop_oldest(&held.room_id);
    if (held_.size() >= total_) dropped += drop_oldest(nullptr);
    held_.push_back(std::move(held));
    return dropped;
  }

  // Every held event not older than max_age at `now_ms`, oldest first; none is held after.
  std::vector<Held> take(std::int64_t now_ms) {
    std::vector<Held> out;
    for (auto& h : held_)
      if (now_ms - h.since_ms <= max_age_ms_) out.push_back(std::move(h));
    held_.clear();
    return out;
  }

  bool empty() const { return held_.empty(); }
  std::size_t size() const { return held_.size(); }

 private:
  std::size_t count(const std::string& room_id) const {
    std::size_t n = 0;
    for (const auto& h : held_) n += h.room_id == room_id ? 1 : 0;
    return n;
  }
  // The oldest event (of `room_id`, or of any room): 1 if there was one.
  std::size_t drop_oldest(const std::string* room_id) {
    for (auto it = held_.begin(); it != held_.end(); ++it) {
      if (room_id == nullptr || it->room_id == *room_id) {
        held_.erase(it);
        return 1;
      }
    }
    return 0;
  }

  std::size_t per_room_, total_;
  std::int64_t max_age_ms_;
  std::deque<Held> held_;
};

}  // namespace mrt::transport
