// EventQueue: the node's events for the application, and the descriptor an event loop polls
// (Node::event_fd, Node::try_next_event).
#include "event_queue.hpp"

#include <poll.h>
#include <thread>

#include <gtest/gtest.h>

namespace mrt {
namespace {

bool readable(int fd) {
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

NodeEvent message(std::string id) {
  return {.type = NodeEventType::message, .id = std::move(id)};
}

TEST(EventQueue, TheDescriptorIsReadableExactlyWhileAnEventWaits) {
  EventQueue q;
  EXPECT_FALSE(readable(q.fd()));
  q.push(message("a"));
  q.push(message("b"));
  EXPECT_TRUE(readable(q.fd()));
  EXPECT_EQ(q.pop(std::chrono::milliseconds(0))->id, "a");
  EXPECT_TRUE(readable(q.fd()));
  EXPECT_EQ(q.pop(std::chrono::milliseconds(0))->id, "b");
  EXPECT_FALSE(readable(q.fd()));
}

TEST(EventQueue, APopThatDoesNotWaitReturnsNothingWhenEmpty) {
  EventQueue q;
  const auto before = std::chrono::steady_clock::now();
  EXPECT_FALSE(q.pop(std::chrono::milliseconds(0)));
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(1));
}

TEST(EventQueue, OnceClosedTheDescriptorStaysReadableAndPopsReturnNothing) {
  EventQueue q;
  q.close();
  EXPECT_TRUE(readable(q.fd()));
  EXPECT_FALSE(q.pop(std::chrono::milliseconds(0)));
  EXPECT_TRUE(readable(q.fd()));
  q.push(message("late"));  // dropped: nobody reads any more
  EXPECT_FALSE(q.pop(std::chrono::milliseconds(0)));
}

TEST(EventQueue, AWaitingPopWakesForAnEventPushedByAnotherThread) {
  EventQueue q;
  std::thread pusher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    q.push(message("a"));
  });
  auto e = q.pop(std::chrono::seconds(10));
  pusher.join();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, "a");
  EXPECT_FALSE(readable(q.fd()));
}

}  // namespace
}  // namespace mrt
