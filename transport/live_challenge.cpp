// The live challenge's messages and checks (live_challenge.hpp).
#include "live_challenge.hpp"

#include <array>
#include <optional>

#include <sodium.h>

#include <mrt/matrix_identity.hpp>

#include "core/sodium_init.hpp"

namespace mrt::transport {
namespace {

using json = nlohmann::json;

std::optional<std::string> string_field(const json& j, const char* name) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

bool is_nonce(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The three fields every challenge and answer carries, checked.
struct Fields {
  std::string nonce, challenger, target;
};
std::optional<Fields> fields_of(const json& content) {
  auto nonce = string_field(content, "challenge");
  auto challenger = string_field(content, "challenger");
  auto target = string_field(content, "target");
  if (!nonce || !challenger || !target || !is_nonce(*nonce) || !address_of_user_id(*challenger) ||
      !address_of_user_id(*target))
    return std::nullopt;
  return Fields{*nonce, *challenger, *target};
}

}  // namespace

std::string_view to_string(ChallengeError e) {
  switch (e) {
    case ChallengeError::malformed:
      return "malformed";
    case ChallengeError::not_for_us:
      return "not_for_us";
    case ChallengeError::wrong_sender:
      return "wrong_sender";
    case ChallengeError::bad_signature:
      return "bad_signature";
  }
  return "unknown";
}

std::string challenge_text(std::string_view nonce, std::string_view challenger,
                           std::string_view target) {
  std::string text = "mrt challenge v1\n";
  text.append(nonce).append("\n").append(challenger).append("\n").append(target);
  return text;
}

std::string new_challenge_nonce() {
  std::array<std::uint8_t, 32> bytes;
  detail::ensure_sodium();
  randombytes_buf(bytes.data(), bytes.size());
  return to_hex(bytes);
}

json challenge_content(const std::string& nonce, const std::string& challenger,
                       const std::string& target) {
  return {{"challenge", nonce}, {"challenger", challenger}, {"target", target}};
}

Result<json, ChallengeError> answer_challenge(const json& challenge, const std::string& sender,
                                              const std::string& my_user_id,
                                              const PrivateKey& key) {
  auto f = fields_of(challenge);
  if (!f) return fail(ChallengeError::malformed);
  if (f->target != my_user_id || f->challenger != sender) return fail(ChallengeError::not_for_us);
  json answer = challenge_content(f->nonce, f->challenger, f->target);
  answer["signature"] =
      personal_sign(key, as_bytes(challenge_text(f->nonce, f->challenger, f->target))).to_hex();
  return answer;
}

std::optional<std::string> answered_nonce(const json& answer) {
  auto nonce = string_field(answer, "challenge");
  if (!nonce || !is_nonce(*nonce)) return std::nullopt;
  return nonce;
}

Result<Address, ChallengeError> check_answer(const json& answer, const std::string& sender,
                                             const std::string& nonce,
                                             const std::string& challenger,
                                             const std::string& target) {
  auto f = fields_of(answer);
  auto signature = string_field(answer, "signature");
  if (!f || !signature) return fail(ChallengeError::malformed);
  if (sender != target) return fail(ChallengeError::wrong_sender);
  const auto claimed = address_of_user_id(target);
  if (!claimed) return fail(ChallengeError::malformed);
  // What the target's key signed must be this very challenge: the fields are not trusted, the
  // text is rebuilt from what the challenger sent.
  auto signer = ecrecover(as_bytes(challenge_text(nonce, challenger, target)), *signature);
  if (!signer || *signer != *claimed) return fail(ChallengeError::bad_signature);
  return *claimed;
}

}  // namespace mrt::transport
