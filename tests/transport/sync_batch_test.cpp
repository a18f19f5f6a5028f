// What the node reads from a /sync answer, and what it does with one that is broken.
#include "sync_batch.hpp"

#include <gtest/gtest.h>

namespace mrt::transport {
namespace {

using json = nlohmann::json;

TEST(SyncBatchTest, ReadsEveryPartTheNodeActsOn) {
  const json body = {
      {"next_batch", "s9"},
      {"to_device", {{"events", {{{"type", "m.room.encrypted"}}}}}},
      {"device_lists", {{"changed", {"@a:hs"}}, {"left", {"@b:hs"}}}},
      {"device_one_time_keys_count", {{"signed_curve25519", 7}}},
      {"device_unused_fallback_key_types", {"signed_curve25519"}},
      {"rooms",
       {{"invite", {{"!i:hs", {{"invite_state", {{"events", {{{"type", "m.room.member"}}}}}}}}}},
        {"join",
         {{"!j:hs",
           {{"state", {{"events", {{{"type", "m.room.create"}}}}}},
            {"timeline", {{"events", {{{"type", "m.room.encrypted"}}}}}}}}}},
        {"leave", {{"!l:hs", json::object()}}}}}};
  auto batch = parse_sync_batch(body);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->next_batch, "s9");
  EXPECT_EQ(batch->e2ee.to_device_events.size(), 1u);
  EXPECT_EQ(batch->e2ee.changed_users, std::vector<std::string>{"@a:hs"});
  EXPECT_EQ(batch->e2ee.left_users, std::vector<std::string>{"@b:hs"});
  EXPECT_EQ(batch->e2ee.one_time_key_counts->at("signed_curve25519"), 7u);
  EXPECT_EQ(batch->e2ee.unused_fallback_key_types->size(), 1u);
  ASSERT_EQ(batch->invited.size(), 1u);
  EXPECT_EQ(batch->invited[0].room_id, "!i:hs");
  ASSERT_EQ(batch->joined.size(), 1u);
  EXPECT_EQ(batch->joined[0].state_events.size(), 1u);
  EXPECT_EQ(batch->joined[0].timeline_events.size(), 1u);
  EXPECT_EQ(batch->left, std::vector<std::string>{"!l:hs"});
}

TEST(SyncBatchTest, AnswerWithoutNextBatchIsRefused) {
  EXPECT_EQ(parse_sync_batch(json::array()).error(), SyncBatchError::not_an_object);
  EXPECT_EQ(parse_sync_batch(json::object()).error(), SyncBatchError::no_next_batch);
  EXPECT_EQ(parse_sync_batch({{"next_batch", 5}}).error(), SyncBatchError::no_next_batch);
  EXPECT_EQ(parse_sync_batch({{"next_batch", ""}}).error(), SyncBatchError::no_next_batch);
}

TEST(SyncBatchTest, BrokenElementsAreDroppedOneByOne) {
  const json body = {{"next_batch", "s1"},
                     {"to_device", {{"events", {1, {{"type", "x"}}, "y"}}}},
                     {"device_lists", {{"changed", {"@a:hs", 3}}}},
                     {"device_one_time_keys_count", {{"signed_curve25519", -1}, {"x", 2}}},
                     {"rooms", {{"join", {{"!j:hs", {{"timeline", {{"events", "nope"}}}}}}}}}};
  auto batch = parse_sync_batch(body);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->e2ee.to_device_events.size(), 1u);
  EXPECT_EQ(batch->e2ee.changed_users, std::vector<std::string>{"@a:hs"});
  EXPECT_EQ(batch->e2ee.one_time_key_counts->size(), 1u);
  ASSERT_EQ(batch->joined.size(), 1u);
  EXPECT_TRUE(batch->joined[0].timeline_events.empty());
}

TEST(SyncBatchTest, AnEventWithAFieldOfTheWrongTypeIsDroppedAlone) {
  const json good = {
      {"type", "network.raiden.envelopes"}, {"sender", "@a:hs"}, {"content", json::object()}};
  json events = json::array({good});
  for (const char* field : {"type", "sender", "state_key", "event_id", "room_id", "content"}) {
    json bad = good;
    bad[field] = 7;
    events.push_back(bad);
  }
  const json body = {{"next_batch", "s1"},
                     {"to_device", {{"events", events}}},
                     {"rooms", {{"join", {{"!j:hs", {{"timeline", {{"events", events}}}}}}}}}};
  auto batch = parse_sync_batch(body);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->e2ee.to_device_events, json::array({good}));
  ASSERT_EQ(batch->joined.size(), 1u);
  EXPECT_EQ(batch->joined[0].timeline_events, json::array({good}));
}

}  // namespace
}  // namespace mrt::transport
