// PROTOCOL §6: judging a broadcast room (squatting), without a server.
#include "broadcast_room.hpp"

#include <gtest/gtest.h>

#include <mrt/topics.hpp>

namespace mrt::transport {
namespace {

using json = nlohmann::json;

BroadcastRoomState public_room() {
  BroadcastRoomState s;
  s.apply("m.room.create", {{"creator", "@0xabc:hs"}, {"room_version", "9"}});
  s.apply("m.room.join_rules", {{"join_rule", "public"}});
  s.apply("m.room.power_levels", {{"users_default", 0}, {"events_default", 0}});
  return s;
}

const std::optional<std::set<Address>> kAnyone;

TEST(BroadcastRoomTest, APublicPlaintextRoomWhereMembersMayPostIsValid) {
  EXPECT_EQ(judge_broadcast_room(public_room(), kAnyone, std::nullopt), BroadcastVerdict::valid);
}

TEST(BroadcastRoomTest, NoPowerLevelsMeansEveryoneMayPost) {
  BroadcastRoomState s = public_room();
  s.power_levels = json::object();
  EXPECT_EQ(judge_broadcast_room(s, kAnyone, std::nullopt), BroadcastVerdict::valid);
}

TEST(BroadcastRoomTest, AnInviteOnlyRoomIsSquatted) {
  BroadcastRoomState s = public_room();
  s.apply("m.room.join_rules", {{"join_rule", "invite"}});
  EXPECT_EQ(judge_broadcast_room(s, kAnyone, std::nullopt), BroadcastVerdict::not_public);
  EXPECT_NE(explain(BroadcastVerdict::not_public, s).find("invite"), std::string::npos);
}

TEST(BroadcastRoomTest, AnEncryptedRoomIsSquatted) {
  BroadcastRoomState s = public_room();
  s.apply("m.room.encryption", {{"algorithm", "m.megolm.v1.aes-sha2"}});
  EXPECT_EQ(judge_broadcast_room(s, kAnyone, std::nullopt), BroadcastVerdict::encrypted);
}

TEST(BroadcastRoomTest, EventsDefaultAboveUsersDefaultIsSquatted) {
  BroadcastRoomState s = public_room();
  s.apply("m.room.power_levels", {{"users_default", 0}, {"events_default", 100}});
  EXPECT_EQ(judge_broadcast_room(s, kAnyone, std::nullopt), BroadcastVerdict::restricted);
}

TEST(BroadcastRoomTest, TheEnvelopeTypesOwnLevelOverridesEventsDefault) {
  BroadcastRoomState s = public_room();
  s.apply("m.room.power_levels", {{"users_default", 0},
                                  {"events_default", 100},
                                  {"events", {{"network.raiden.envelopes", 0}}}});
  EXPECT_EQ(judge_broadcast_room(s, kAnyone, std::nullopt), BroadcastVerdict::valid);
  s.apply("m.room.power_levels", {{"users_default", 0},
                                  {"events_default", 0},
                                  {"events", {{"network.raiden.envelopes", 50}}}});
  EXPECT_EQ(judge_broadcast_room(s, kAnyone, std::nullopt), BroadcastVerdict::restricted);
}

TEST(BroadcastRoomTest, UnreadableLevelsCountAsOutOfReach) {
  BroadcastRoomState s = public_room();
  s.apply("m.room.power_levels", {{"users_default", 0}, {"events_default", "high"}});
  EXPECT_EQ(judge_broadcast_room(s, kAnyone, std::nullopt), BroadcastVerdict::restricted);
  s.apply("m.room.power_levels", {{"users_default", "10"}, {"events_default", "5"}});
  EXPECT_EQ(judge_broadcast_room(s, kAnyone, std::nullopt), BroadcastVerdict::valid)
      << "older room versions write levels as strings";
}

TEST(BroadcastRoomTest, WithOperatorsTheCreatorMustBeOne) {
  const Address op = PrivateKey::generate().address();
  const Address other = PrivateKey::generate().address();
  const std::optional<std::set<Address>> operators = std::set<Address>{op};
  EXPECT_EQ(judge_broadcast_room(public_room(), operators, op), BroadcastVerdict::valid);
  EXPECT_EQ(judge_broadcast_room(public_room(), operators, other),
            BroadcastVerdict::foreign_creator);
  EXPECT_EQ(judge_broadcast_room(public_room(), operators, std::nullopt),
            BroadcastVerdict::foreign_creator)
      << "a creator whose displayname proves no address";
}

TEST(BroadcastRoomTest, SyncStateEventsUpdateTheJudgedStateAndOthersAreIgnored) {
  BroadcastRoomState s = public_room();
  EXPECT_TRUE(s.apply_event({{"type", "m.room.join_rules"},
                             {"state_key", ""},
                             {"sender", "@0xabc:hs"},
                             {"content", {{"join_rule", "invite"}}}}));
  EXPECT_EQ(s.join_rule, "invite");
  EXPECT_FALSE(s.apply_event({{"type", "m.room.name"}, {"state_key", ""}, {"content", {}}}));
  EXPECT_FALSE(s.apply_event({{"type", "m.room.join_rules"}, {"content", {}}})) << "no state key";
  EXPECT_FALSE(s.apply_event(json::array()));
  EXPECT_FALSE(s.apply_event({{"type", 5}, {"state_key", ""}}));
}

TEST(BroadcastRoomTest, ACreateEventWithoutCreatorNamesItsSender) {
  BroadcastRoomState s;
  s.apply_event({{"type", "m.room.create"},
                 {"state_key", ""},
                 {"sender", "@0xdef:hs"},
                 {"content", {{"room_version", "11"}}}});
  EXPECT_EQ(s.creator, "@0xdef:hs");
}

TEST(BroadcastRoomTest, AnEventsRoomAcceptsItsOperatorsRoomBesidesTheNetworksOperators) {
  const Address op = PrivateKey::generate().address(), network = PrivateKey::generate().address();
  const std::string topic = events_topic(1, op);
  EXPECT_EQ(allowed_creators(topic, std::nullopt), std::set<Address>{op});
  EXPECT_EQ(allowed_creators(topic, std::set<Address>{network}), (std::set<Address>{op, network}));
  EXPECT_EQ(allowed_creators("raiden_1_monitoring", std::nullopt), std::nullopt);
  EXPECT_EQ(allowed_creators("raiden_1_monitoring", std::set<Address>{network}),
            std::set<Address>{network});
}

}  // namespace
}  // namespace mrt::transport
