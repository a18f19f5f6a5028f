// PROTOCOL.md §5's DM room rules as pure functions: the createRoom body, and the verdict on a
// room's state.
#include "dm_room.hpp"

#include <gtest/gtest.h>

#include <mrt/e2ee_machine.hpp>
#include <mrt/matrix_identity.hpp>

namespace mrt::transport {
namespace {

using json = nlohmann::json;

class DmRoomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PrivateKey a = PrivateKey::generate(), b = PrivateKey::generate();
    if (b.address() < a.address()) std::swap(a, b);
    lower_ = a.address();
    higher_ = b.address();
    lower_user_ = matrix_user_id(lower_, "hs");
    higher_user_ = matrix_user_id(higher_, "hs");
    validated_ = {{lower_user_, lower_}, {higher_user_, higher_}};
  }

  // The state of a room made with dm_room_create_body by the lower address, the higher joined.
  DmRoomState good_room() const {
    DmRoomState s;
    s.apply({{"type", "m.room.create"},
             {"state_key", ""},
             {"sender", lower_user_},
             {"origin_server_ts", 5},
             {"content", json::object()}});
    s.apply(member(lower_user_, "join"));
    s.apply({{"type", "m.room.join_rules"},
             {"state_key", ""},
             {"sender", lower_user_},
             {"content", {{"join_rule", "invite"}}}});
    const json body = dm_room_create_body(lower_, higher_, {higher_user_});
    for (auto e : body["initial_state"]) {
      e["sender"] = lower_user_;
      s.apply(e);
    }
    s.apply(member(higher_user_, "join"));
    return s;
  }

  static json member(const std::string& user, const std::string& membership) {
    return {{"type", "m.room.member"},
            {"state_key", user},
            {"sender", user},
            {"content", {{"membership", membership}}}};
  }

  DmRoomVerdict judge(const DmRoomState& s) const { return judge_dm_room(s, higher_, validated_); }

  Address lower_, higher_;
  std::string lower_user_, higher_user_;
  std::map<std::string, Address> validated_;
};

TEST_F(DmRoomTest, CreateBodyIsExactlyTheProtocols) {
  const json body = dm_room_create_body(lower_, higher_, {higher_user_});
  EXPECT_EQ(body["preset"], "private_chat");
  EXPECT_EQ(body["is_direct"], true);
  EXPECT_EQ(body["invite"], json::array({higher_user_}));
  const json expected_state =
      json::array({{{"type", "m.room.encryption"},
                    {"state_key", ""},
                    {"content",
                     {{"algorithm", "m.megolm.v1.aes-sha2"},
                      {"rotation_period_ms", 604800000},
                      {"rotation_period_msgs", 100}}}},
                   {{"type", "network.raiden.dm"},
                    {"state_key", ""},
                    {"content", {{"addresses", {lower_.to_hex(), higher_.to_hex()}}}}}});
  EXPECT_EQ(body["initial_state"], expected_state);
}

TEST_F(DmRoomTest, RoomMadeByTheRulesIsValidForBothSides) {
  const DmRoomState s = good_room();
  EXPECT_EQ(judge(s), DmRoomVerdict::valid);
  EXPECT_EQ(judge_dm_room(s, lower_, validated_), DmRoomVerdict::valid);
  EXPECT_EQ(dm_partner(s, higher_), lower_);
  EXPECT_EQ(dm_partner(s, lower_), higher_);
}

TEST_F(DmRoomTest, RoomWithoutDmStateIsNotADm) {
  EXPECT_EQ(judge(DmRoomState{}), DmRoomVerdict::not_a_dm);
}

TEST_F(DmRoomTest, AddressesInTheWrongOrderOrNotNamingUsAreRefused) {
  DmRoomState s = good_room();
  s.dm = json{{"addresses", {higher_.to_hex(), lower_.to_hex()}}};
  EXPECT_EQ(judge(s), DmRoomVerdict::bad_addresses);
  s.dm = json{{"addresses", {lower_.to_hex(), PrivateKey::generate().address().to_hex()}}};
  EXPECT_EQ(judge(s), DmRoomVerdict::bad_addresses);
  s.dm = json{{"addresses", {lower_.to_hex(), higher_.to_hex()}}, {"extra", 1}};
  EXPECT_EQ(judge(s), DmRoomVerdict::bad_addresses);
}

TEST_F(DmRoomTest, RoomCreatedByTheHigherAddressOrAnUnvalidatedUserIsRefused) {
  DmRoomState s = good_room();
  s.creator = higher_user_;
  EXPECT_EQ(judge(s), DmRoomVerdict::bad_creator);
  s.creator = matrix_user_id(lower_, "rogue.example");  // same address, never validated
  EXPECT_EQ(judge(s), DmRoomVerdict::bad_creator);
}

TEST_F(DmRoomTest, EncryptionOtherThanTheProtocolsIsRefused) {
  DmRoomState s = good_room();
  s.encryption = json{{"algorithm", "m.olm.v1.curve25519-aes-sha2"}};
  EXPECT_EQ(judge(s), DmRoomVerdict::bad_encryption);
  s.encryption = json{{"algorithm", "m.megolm.v1.aes-sha2"},
                      {"rotation_period_ms", 604800000LL * 4},
                      {"rotation_period_msgs", 100}};
  EXPECT_EQ(judge(s), DmRoomVerdict::bad_encryption);
  s.encryption.reset();
  EXPECT_EQ(judge(s), DmRoomVerdict::bad_encryption);
}

TEST_F(DmRoomTest, ThirdMemberJoinedOrInvitedMakesTheRoomInvalid) {
  DmRoomState s = good_room();
  const std::string eve = matrix_user_id(PrivateKey::generate().address(), "hs");
  s.apply(member(eve, "invite"));
  EXPECT_EQ(judge(s), DmRoomVerdict::foreign_member);
  s.apply(member(eve, "leave"));
  EXPECT_EQ(judge(s), DmRoomVerdict::valid);
}

TEST_F(DmRoomTest, PublicJoinRuleIsRefused) {
  DmRoomState s = good_room();
  s.apply({{"type", "m.room.join_rules"},
           {"state_key", ""},
           {"sender", lower_user_},
           {"content", {{"join_rule", "public"}}}});
  EXPECT_EQ(judge(s), DmRoomVerdict::public_room);
}

TEST_F(DmRoomTest, StateSurvivesItsStoreForm) {
  const DmRoomState s = good_room();
  auto back = DmRoomState::from_json(s.to_json());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->to_json(), s.to_json());
  EXPECT_FALSE(DmRoomState::from_json(json{{"creator", 1}}));
}

TEST_F(DmRoomTest, EventsWithoutStateKeyDoNotChangeState) {
  DmRoomState s = good_room();
  s.apply({{"type", "m.room.encryption"}, {"sender", lower_user_}, {"content", json::object()}});
  EXPECT_EQ(judge(s), DmRoomVerdict::valid);
}

}  // namespace
}  // namespace mrt::transport
