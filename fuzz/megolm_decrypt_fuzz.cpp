// Fuzz target: Megolm decryption (m.room.encrypted ciphertexts and m.room_key session keys are
// peer input).
//
// Input: a session key and a ciphertext, split at the first newline (both base64 text).
// Properties:
// - from_session_key, from_exported_key and decrypt never crash or throw;
// - nothing decrypts under a session the harness made itself unless it is that session's own
//   ciphertext: a fuzzed ciphertext is refused by it (signature and MAC), and the refusal leaves
//   the session as it was (its pickle is the same bytes: libolm pickles deterministically);
// - the harness's own message, with the input's first 256 bytes as plaintext, decrypts to that
//   plaintext at its index, and any single-byte change of the decoded message (position and
//   value from the input) is refused.
//
// Both sessions are made once per process and restored from their pickles for every input, so
// that each input starts from the same state (reproducible on its own) at the cost of an
// unpickle; what remains is libolm's Ed25519, one signature check per well-formed ciphertext.
#include <algorithm>

#include <mrt/matrix_signing.hpp>
#include <mrt/megolm.hpp>

#include "fuzz_common.hpp"

namespace {

struct Fixture {
  mrt::Bytes pickle_key = mrt::Bytes(mrt::kPickleKeySize, 0x42);
  mrt::SecretBuffer outbound;
  mrt::SecretBuffer inbound;

  Fixture() {
    mrt::MegolmOutboundSession out = mrt::MegolmOutboundSession::create();
    auto in = mrt::MegolmInboundSession::from_session_key(mrt::as_chars(out.session_key().view()));
    FUZZ_CHECK(static_cast<bool>(in));
    outbound = out.pickle(pickle_key);
    inbound = in->pickle(pickle_key);
  }
};

bool same(const mrt::SecretBuffer& a, const mrt::SecretBuffer& b) {
  return a.size() == b.size() && std::equal(a.view().begin(), a.view().end(), b.view().begin());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Fixture f;
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

  auto in = mrt::MegolmInboundSession::unpickle(mrt::as_chars(f.inbound.view()), f.pickle_key);
  FUZZ_CHECK(static_cast<bool>(in));
  FUZZ_CHECK(!in->decrypt(ciphertext));  // the input can not forge a message of our session
  FUZZ_CHECK(same(in->pickle(f.pickle_key), f.inbound));

  auto out = mrt::MegolmOutboundSession::unpickle(mrt::as_chars(f.outbound.view()), f.pickle_key);
  FUZZ_CHECK(static_cast<bool>(out));
  const std::string plain(mrt::fuzz::as_text(data, std::min<std::size_t>(size, 256)));
  const std::uint32_t index = out->message_index();
  const std::string mine = out->encrypt(mrt::as_bytes(plain));
  if (size >= 2) {
    mrt::Bytes raw = *mrt::parse_base64_unpadded(mine);
    raw[(data[0] << 8 | data[size - 1]) % raw.size()] ^= static_cast<std::uint8_t>(data[1] | 1);
    FUZZ_CHECK(!in->decrypt(mrt::base64_unpadded(raw)));
    FUZZ_CHECK(same(in->pickle(f.pickle_key), f.inbound));
  }
  auto got = in->decrypt(mine);
  FUZZ_CHECK(got && mrt::as_chars(got->plaintext.view()) == plain && got->message_index == index);
  return 0;
}
