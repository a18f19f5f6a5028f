// HeldRoomEvents: DM room events held until their Megolm key arrives, within bounds a peer
// cannot push.
#include "held_room_events.hpp"

#include <gtest/gtest.h>

namespace mrt::transport {
namespace {

HeldRoomEvents::Held event(const std::string& room, int n, std::int64_t at = 0) {
  return {room, {{"n", n}}, at};
}

std::vector<int> numbers(const std::vector<HeldRoomEvents::Held>& held) {
  std::vector<int> out;
  for (const auto& h : held) out.push_back(h.event["n"].get<int>());
  return out;
}

TEST(HeldRoomEvents, TakeHandsOverEveryHeldEventOldestFirstAndHoldsNoneAfter) {
  HeldRoomEvents held(8, 8, 1000);
  held.hold(event("!a", 1));
  held.hold(event("!b", 2));
  held.hold(event("!a", 3));
  EXPECT_EQ(numbers(held.take(0)), (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(held.empty());
}

TEST(HeldRoomEvents, ARoomOverItsShareDropsItsOwnOldestOnly) {
  HeldRoomEvents held(2, 8, 1000);
  held.hold(event("!a", 1));
  held.hold(event("!b", 2));
  held.hold(event("!a", 3));
  EXPECT_EQ(held.hold(event("!a", 4)), 1u);
  EXPECT_EQ(numbers(held.take(0)), (std::vector<int>{2, 3, 4}));
}

TEST(HeldRoomEvents, AllRoomsTogetherKeepAtMostTheTotal) {
  HeldRoomEvents held(8, 3, 1000);
  for (int i = 0; i < 10; ++i) held.hold(event("!r" + std::to_string(i), i));
  EXPECT_EQ(held.size(), 3u);
  EXPECT_EQ(numbers(held.take(0)), (std::vector<int>{7, 8, 9}));
}

TEST(HeldRoomEvents, EventsOlderThanTheMaxAgeAreNotHandedOver) {
  HeldRoomEvents held(8, 8, 1000);
  held.hold(event("!a", 1, 0));
  held.hold(event("!a", 2, 500));
  EXPECT_EQ(numbers(held.take(1200)), (std::vector<int>{2}));
  EXPECT_TRUE(held.empty());
}

}  // namespace
}  // namespace mrt::transport
