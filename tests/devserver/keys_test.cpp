// E2EE endpoints: device keys kept exactly, one-time and fallback keys, claims, room_keys.
#include "devserver_fixture.hpp"

namespace mrt::testing {
namespace {

using Json = nlohmann::json;
class KeysTest : public DevserverTest {
 protected:
  Json device_keys(const TestUser& u) {
    return {{"user_id", u.user_id},
            {"device_id", u.device_id},
            {"algorithms", {"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"}},
            {"keys", {{"curve25519:" + u.device_id, "Y3VydmU"}, {"ed25519:" + u.device_id, "ZWQ"}}},
            {"network.raiden.attestation",
             {{"address", u.address},
              {"issued_at", 1732528800000},
              {"sig", "0x" + std::string(130, 'a')}}},
            {"signatures", {{u.user_id, {{"ed25519:" + u.device_id, "c2ln"}}}}}};
  }
};

TEST_F(KeysTest, QueryReturnsDeviceKeysExactlyAsUploadedWithUnknownFields) {
  TestUser alice = login_new(), bob = login_new();
  const Json keys = device_keys(alice);
  auto up = http.post(api("/keys/upload"), {{"device_keys", keys}}, alice.token);
  ASSERT_EQ(up.status, 200) << up.body;
  auto q =
      http.post(api("/keys/query"), {{"device_keys", {{alice.user_id, Json::array()}}}}, bob.token);
  ASSERT_EQ(q.status, 200);
  EXPECT_EQ(q.json["device_keys"][alice.user_id][alice.device_id], keys);
  // Asking for one device, or an unknown user.
  q = http.post(
      api("/keys/query"),
      {{"device_keys", {{alice.user_id, {"OTHER"}}, {"@nobody:localhost", Json::array()}}}},
      bob.token);
  EXPECT_TRUE(q.json["device_keys"][alice.user_id].empty());
  EXPECT_TRUE(q.json["device_keys"]["@nobody:localhost"].empty());
  // Keys for another user or device are refused.
  EXPECT_EQ(http.post(api("/keys/upload"), {{"device_keys", keys}}, bob.token).errcode(),
            "M_INVALID_PARAM");
}

TEST_F(KeysTest, ClaimTakesOneTimeKeysThenTheFallbackKey) {
  TestUser alice = login_new(), bob = login_new();
  Json otks = {{"signed_curve25519:AAAA", {{"key", "k1"}, {"signatures", Json::object()}}},
               {"signed_curve25519:AAAB", {{"key", "k2"}, {"signatures", Json::object()}}}};
  Json fallback = {{"signed_curve25519:FFFF", {{"key", "fb"}, {"fallback", true}}}};
  auto up = http.post(api("/keys/upload"), {{"one_time_keys", otks}, {"fallback_keys", fallback}},
                      alice.token);
  ASSERT_EQ(up.status, 200);
  EXPECT_EQ(up.json["one_time_key_counts"]["signed_curve25519"], 2);
  Json s = sync(alice);
  EXPECT_EQ(s["device_one_time_keys_count"]["signed_curve25519"], 2);
  EXPECT_EQ(s["device_unused_fallback_key_types"], Json::array({"signed_curve25519"}));
  Json claim = {{"one_time_keys", {{alice.user_id, {{alice.device_id, "signed_curve25519"}}}}}};
  std::set<std::string> claimed;
  for (int i = 0; i < 3; ++i) {
    auto r = http.post(api("/keys/claim"), claim, bob.token);
    ASSERT_EQ(r.status, 200);
    for (const auto& [id, key] : r.json["one_time_keys"][alice.user_id][alice.device_id].items()) {
      claimed.insert(id);
    }
  }
  EXPECT_EQ(claimed, (std::set<std::string>{"signed_curve25519:AAAA", "signed_curve25519:AAAB",
                                            "signed_curve25519:FFFF"}));
  s = sync(alice);
  EXPECT_EQ(s["device_one_time_keys_count"]["signed_curve25519"], 0);
  EXPECT_TRUE(s["device_unused_fallback_key_types"].empty());
  // Re-uploading an existing key id with another value is refused.
  EXPECT_EQ(
      http.post(api("/keys/upload"),
                {{"one_time_keys", {{"signed_curve25519:AAAA", {{"key", "other"}}}}}}, alice.token)
          .status,
      200);  // AAAA was claimed, so the id is free again
  EXPECT_EQ(
      http.post(api("/keys/upload"),
                {{"one_time_keys", {{"signed_curve25519:AAAA", {{"key", "third"}}}}}}, alice.token)
          .errcode(),
      "M_INVALID_PARAM");
  EXPECT_EQ(http.post(api("/keys/upload"), {{"one_time_keys", {{"nocolon", "k"}}}}, alice.token)
                .errcode(),
            "M_INVALID_PARAM");
}

TEST_F(KeysTest, WrongTypesAreBadJsonAndKeyBackupIsAbsent) {
  TestUser alice = login_new();
  EXPECT_EQ(http.post(api("/keys/query"), {{"device_keys", {{alice.user_id, "x"}}}}, alice.token)
                .errcode(),
            "M_BAD_JSON");
  EXPECT_EQ(http.post(api("/keys/claim"), {{"one_time_keys", 5}}, alice.token).errcode(),
            "M_BAD_JSON");
  EXPECT_EQ(http.put(api("/sendToDevice/t/1"), {{"messages", {{alice.user_id, 1}}}}, alice.token)
                .errcode(),
            "M_BAD_JSON");
  EXPECT_EQ(http.get(api("/room_keys/version"), alice.token).errcode(), "M_NOT_FOUND");
  EXPECT_EQ(http.get(api("/keys/changes?from=s0"), alice.token).errcode(), "M_MISSING_PARAM");
}

}  // namespace
}  // namespace mrt::testing
