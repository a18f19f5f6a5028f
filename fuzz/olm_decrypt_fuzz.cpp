// Fuzz target: Olm (to-device m.room.encrypted, m.olm.v1.curve25519-aes-sha2 bodies are peer
// input).
//
// Input: one type byte, then a message body (base64 text). Properties:
// - OlmSession::inbound and decrypt never crash or throw, and never spend a one-time key on a
//   message that did not decrypt: after any refused pre-key message, the account still accepts
//   the harness's own genuine pre-key message;
// - a fuzzed normal message never decrypts under an established session.
#include <mrt/olm.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto type = data[0] % 2 == 0 ? mrt::OlmMessageType::pre_key : mrt::OlmMessageType::normal;
  const mrt::OlmMessage fuzzed{type, std::string(mrt::fuzz::as_text(data + 1, size - 1))};

  static mrt::OlmAccount alice = mrt::OlmAccount::create();
  mrt::OlmAccount bob = mrt::OlmAccount::create();
  bob.generate_one_time_keys(1);
  const std::string otk = bob.one_time_keys().begin()->second;
  bob.mark_keys_as_published();
  const std::string alice_key = alice.identity_keys().curve25519;

  auto forged = mrt::OlmSession::inbound(bob, alice_key, fuzzed);
  FUZZ_CHECK(!forged);  // the input does not know bob's one-time key's secret

  mrt::OlmSession a = mrt::OlmSession::outbound(alice, bob.identity_keys().curve25519, otk).value();
  auto genuine = mrt::OlmSession::inbound(bob, alice_key, a.encrypt(mrt::as_bytes("hello")));
  FUZZ_CHECK(genuine);  // the one-time key was still there
  auto& [b, plain] = *genuine;
  FUZZ_CHECK(mrt::as_chars(plain.view()) == "hello");
  FUZZ_CHECK(!b.decrypt(fuzzed) || fuzzed.type == mrt::OlmMessageType::pre_key);
  return 0;
}
