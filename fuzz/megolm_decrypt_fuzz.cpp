// Fuzz target: Megolm decryption (m.room.encrypted ciphertexts and m.room_key session keys are
// peer input).
//
// Input: a session key and a ciphertext, split at the first newline (both base64 text).
// Properties:
// - from_session_key, from_exported_key and decrypt never crash or throw;
// - nothing decrypts under a session the harness made itself unless it is that session's own
//   ciphertext: a fuzzed ciphertext is refused by a fresh session (MAC and signature);
// - the harness's own message decrypts to its plaintext at its index, and any single-byte change
//   of the decoded message (position and value from the input) is refused.
#include <mrt/matrix_signing.hpp>
#include <mrt/megolm.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = mrt::fuzz::as_text(data, size);
  const auto nl = text.find('\n');
  const std::string_view key = text.substr(0, nl);
  const std::string_view ciphertext = nl == std::string_view::npos ? "" : text.substr(nl + 1);

  if (auto shared = mrt::MegolmInboundSession::from_session_key(key)) {
    (void)shared->decrypt(ciphertext);
  }
  if (auto exported = mrt::MegolmInboundSession::from_exported_key(key)) {
    (void)exported->decrypt(ciphertext);
  }

  static mrt::MegolmOutboundSession out = mrt::MegolmOutboundSession::create();
  static mrt::MegolmInboundSession in =
      mrt::MegolmInboundSession::from_session_key(mrt::as_chars(out.session_key().view())).value();
  FUZZ_CHECK(!in.decrypt(ciphertext));  // the input can not forge a message of our session

  const std::string plain(mrt::fuzz::as_text(data, std::min<std::size_t>(size, 256)));
  const std::uint32_t index = out.message_index();
  const std::string mine = out.encrypt(mrt::as_bytes(plain));
  auto got = in.decrypt(mine);
  FUZZ_CHECK(got && mrt::as_chars(got->plaintext.view()) == plain && got->message_index == index);
  if (size >= 2) {
    mrt::Bytes raw = *mrt::parse_base64_unpadded(mine);
    raw[data[0] % raw.size()] ^= static_cast<std::uint8_t>(data[1] | 1);
    FUZZ_CHECK(!in.decrypt(mrt::base64_unpadded(raw)));
  }
  return 0;
}
