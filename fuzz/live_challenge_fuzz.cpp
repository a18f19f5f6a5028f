// Fuzz target: the live challenge's messages (transport/live_challenge.hpp), as peers send them.
//
// Input: any bytes as the content of a to-device challenge or answer. Properties:
// - answer_challenge and check_answer never throw, whatever the JSON;
// - a challenge is answered only when its target is our user id and its challenger its sender,
//   and the answer it makes is accepted by check_answer for that very challenge;
// - check_answer accepts only answers from the target whose signature recovers its address.
#include <cstdint>
#include <string>

#include <mrt/matrix_identity.hpp>

#include "fuzz_common.hpp"
#include "transport/live_challenge.hpp"

namespace {

using json = nlohmann::json;

std::string text_of(const json& j, const char* field) {
  if (!j.is_object() || !j.contains(field) || !j[field].is_string()) return {};
  return j[field].get<std::string>();
}

const mrt::PrivateKey& our_key() {
  static const mrt::PrivateKey key = mrt::PrivateKey::from_hex(std::string(63, '0') + "7").value();
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto content = json::parse(mrt::fuzz::as_text(data, size), nullptr, false);
  if (content.is_discarded()) return 0;
  const std::string me = mrt::matrix_user_id(our_key().address(), "fuzz.example");
  const std::string sender = text_of(content, "challenger");

  auto answer = mrt::transport::answer_challenge(content, sender, me, our_key());
  if (answer) {
    FUZZ_CHECK(text_of(content, "target") == me);
    const auto nonce = mrt::transport::answered_nonce(*answer);
    FUZZ_CHECK(nonce.has_value());
    auto proven = mrt::transport::check_answer(*answer, me, *nonce, sender, me);
    FUZZ_CHECK(proven.ok() && *proven == our_key().address());
  }

  // As an answer to a challenge of ours to whatever target it names.
  const std::string target = text_of(content, "target");
  if (auto nonce = mrt::transport::answered_nonce(content)) {
    auto proven = mrt::transport::check_answer(content, target, *nonce, me, target);
    if (proven) FUZZ_CHECK(mrt::address_of_user_id(target).value() == *proven);
  }
  return 0;
}
