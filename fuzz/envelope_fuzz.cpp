// Fuzz target: envelope validation (PROTOCOL.md §4 rules 1-5), validate_envelope on JSON any
// peer can send.
//
// Input: JSON text through parse_json_strict, judged as arriving on a unicast carrier and in a
// broadcast room. Properties:
// - validate_envelope and parse_envelope never crash or throw;
// - rule order: anything parse_envelope refuses is `malformed` for validate_envelope too, and an
//   accepted envelope passed parse_envelope;
// - an accepted envelope's fields re-serialise (Envelope::to_json) to the same canonical bytes
//   it arrived as, and its signature recovers its sender over signing_payload();
// - round trip: an envelope built and signed by the harness from the input's body and topic is
//   accepted where it belongs and refused (wrong_recipient / wrong_topic) elsewhere;
// - the homeserver rule (refuse_broadcast_event) never throws on the input as an event's content
//   or as its one envelope; it passes the batch of one envelope exactly when the envelope passes
//   rules 1-4 in the room (judged at its own ts) and its Matrix sender is the envelope's sender.
#include <mrt/broadcast_event_rule.hpp>
#include <mrt/canonical_json.hpp>
#include <mrt/envelope.hpp>
#include <mrt/matrix_identity.hpp>

#include "fuzz_common.hpp"

namespace {

constexpr std::int64_t kNow = 1732528800000;

const mrt::PrivateKey& key() {
  static const mrt::PrivateKey k = mrt::PrivateKey::from_bytes(mrt::Bytes(32, 0x45)).value();
  return k;
}

void check_accepted(const nlohmann::json& j, const mrt::Envelope& e) {
  FUZZ_CHECK(mrt::parse_envelope(j).ok());
  FUZZ_CHECK(mrt::canonical_json(e.to_json()).value() == mrt::canonical_json(j).value());
  auto signer = mrt::ecrecover(mrt::as_bytes(e.signing_payload()), e.sig);
  FUZZ_CHECK(signer && *signer == e.sender);
}

void check_broadcast_rule(const nlohmann::json& j, const mrt::Arrival& room) {
  const std::string topic = *room.room_topic;
  const std::string harness = mrt::matrix_user_id(key().address(), "hs.example");
  (void)mrt::refuse_broadcast_event(j, topic, harness);
  const nlohmann::json batch = {{"envelopes", nlohmann::json::array({j})}};
  auto shape = mrt::parse_envelope(j);
  if (!shape) {
    auto refused = mrt::refuse_broadcast_event(batch, topic, harness);
    FUZZ_CHECK(refused && refused->reason == mrt::RejectReason::malformed);
    return;
  }
  const std::string signer = mrt::matrix_user_id(shape->sender, "hs.example");
  const bool passes = mrt::validate_envelope(j, room, shape->ts).ok();
  FUZZ_CHECK(mrt::refuse_broadcast_event(batch, topic, signer).has_value() != passes);
  if (shape->sender != key().address()) {
    auto refused = mrt::refuse_broadcast_event(batch, topic, harness);
    FUZZ_CHECK(refused && refused->error == mrt::BroadcastEventError::not_the_sender);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = mrt::parse_json_strict(mrt::fuzz::as_text(data, size));
  if (!parsed) return 0;
  const nlohmann::json& j = *parsed;
  const bool shape_ok = mrt::parse_envelope(j).ok();
  const mrt::Arrival unicast{.receiver = key().address()};
  const mrt::Arrival room{.room_topic = "raiden_1_monitoring"};
  for (const mrt::Arrival& where : {unicast, room}) {
    auto got = mrt::validate_envelope(j, where, kNow);
    if (!shape_ok) FUZZ_CHECK(!got && got.error() == mrt::RejectReason::malformed);
    if (got) check_accepted(j, *got);
  }
  check_broadcast_rule(j, room);

  // Round trip with the harness's key, body taken from the input.
  const std::string body =
      j.is_object() && j.contains("body") && j["body"].is_string()
          ? j["body"].get<std::string>()
          : std::string(mrt::fuzz::as_text(data, std::min<std::size_t>(size, 64)));
  if (!mrt::canonical_json(nlohmann::json(body))) return 0;  // not UTF-8: can not be a body
  const auto e = mrt::Envelope::message(key(), key().address(), body, kNow);
  auto back = mrt::validate_envelope(e.to_json(), unicast, kNow);
  if (back) {
    FUZZ_CHECK(back->body == body);
  } else {
    FUZZ_CHECK(back.error() == mrt::RejectReason::too_large);
  }
  auto in_room = mrt::validate_envelope(e.to_json(), room, kNow);
  FUZZ_CHECK(!in_room && (in_room.error() == mrt::RejectReason::wrong_recipient ||
                          in_room.error() == mrt::RejectReason::too_large));
  return 0;
}
