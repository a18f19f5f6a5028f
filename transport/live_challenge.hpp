// transport/live_challenge.hpp (internal): the live challenge of a discovery candidate
// (docs/protocol.md "Live challenge"; PROTOCOL is silent): the design's "candidates trusted only
// after a challenge is answered with a signed message". Pure: the messages and their checks.
//
// The challenger C sends the candidate user id T, as a plaintext to-device event
// `network.raiden.challenge` to all of T's devices, {"challenge": nonce, "challenger": C,
// "target": T}. T's node answers C with `network.raiden.challenge_answer`, {"challenge",
// "challenger", "target", "signature"}: personal_sign over challenge_text(nonce, C, T) by the key
// of T's address. C accepts it once: its Matrix sender (which the homeserver authenticates) is
// T, the nonce is the one C sent to T and has not been answered, and the signature recovers the
// address T claims. The text binds C and T, so an answer is worth nothing to another challenger
// or for another user id (a relay), and the fresh nonce makes an old answer worthless (a replay).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <mrt/eth.hpp>
#include <mrt/result.hpp>

namespace mrt::transport {

inline constexpr const char* kChallengeEventType = "network.raiden.challenge";
inline constexpr const char* kChallengeAnswerEventType = "network.raiden.challenge_answer";

// "mrt challenge v1\n<nonce>\n<challenger>\n<target>": what the target's key signs.
std::string challenge_text(std::string_view nonce, std::string_view challenger,
                           std::string_view target);
// 32 random bytes as 64 lowercase hex digits.
std::string new_challenge_nonce();

nlohmann::json challenge_content(const std::string& nonce, const std::string& challenger,
                                 const std::string& target);

enum class ChallengeError : int {
  malformed = 1,      // not an object with the fields, a nonce of 64 hex digits, user ids
  not_for_us = 2,     // a challenge whose target is not this user, or whose challenger is
                      // not its Matrix sender (the answer would go to someone else)
  wrong_sender = 3,   // an answer not sent by the target
  bad_signature = 4,  // an answer whose signature does not recover the target's address
};
std::string_view to_string(ChallengeError e);

// A challenge `sender` sent to `my_user_id`: the answer's content, signed with `key`.
Result<nlohmann::json, ChallengeError> answer_challenge(const nlohmann::json& challenge,
                                                        const std::string& sender,
                                                        const std::string& my_user_id,
                                                        const PrivateKey& key);

// The nonce of an answer, if it has one (to find the challenge it answers).
std::optional<std::string> answered_nonce(const nlohmann::json& answer);

// An answer that `sender` sent to the challenge (nonce, challenger, target): the target's
// address when it proves it.
Result<Address, ChallengeError> check_answer(const nlohmann::json& answer,
                                             const std::string& sender, const std::string& nonce,
                                             const std::string& challenger,
                                             const std::string& target);

}  // namespace mrt::transport
