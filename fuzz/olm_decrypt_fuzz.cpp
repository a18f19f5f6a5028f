// Fuzz target: Olm (to-device m.room.encrypted, m.olm.v1.curve25519-aes-sha2 bodies are peer
// input).
//
// Input: one type byte (even: pre-key, odd: normal), then a message body (base64 text); the next
// two bytes and the last one also give a position and a value. Properties:
// - OlmSession::inbound, matches_inbound and decrypt never crash or throw;
// - no plaintext without authentication: the fuzzed message neither starts a session on bob's
//   account nor decrypts under bob's established session, and neither does the harness's own
//   normal message with one byte changed (position and value from the input); alice's genuine
//   pre-key message with one byte changed is refused too, except where the change is outside
//   everything Olm authenticates: its version byte (libolm reads but never checks it) and bit 255
//   of the base key (X25519 ignores it) — those spellings still decrypt, to the genuine
//   plaintext (docs/security.md, finding 6);
// - a refused message changes nothing: bob's account (so its one-time key is never spent) and
//   bob's session pickle to the same bytes as before (libolm pickles deterministically);
// - round trip: alice's next message, with the input as plaintext, decrypts to it under bob's
//   session.
// The checks on bob's account run for pre-key inputs, the round trip for normal ones.
//
// Accounts and sessions are made once per process and restored from their pickles for every
// input: key generation and the 3DH of a new session cost far more than an unpickle, and a fixed
// starting state makes every input reproducible on its own.
#include <algorithm>

#include <mrt/matrix_signing.hpp>
#include <mrt/olm.hpp>

#include "fuzz_common.hpp"

namespace {

// The pre-key message as libolm writes it: version, then fields 1 (one-time key), 2 (base key)
// and 3 (identity key), each a tag, a length of 32 and the key, then field 4 (the message).
constexpr std::size_t kVersionByte = 0;
constexpr std::size_t kBaseKeyLastByte = 1 + 34 + 34 - 1;

struct Fixture {
  mrt::Bytes pickle_key = mrt::Bytes(32, 0x42);
  std::string alice_key;
  // bob's account with one published one-time key, before alice's first message.
  mrt::SecretBuffer bob_account;
  // alice's first (pre-key) message to bob, which bob's account above accepts.
  mrt::OlmMessage genuine_pre_key;
  std::size_t genuine_pre_key_size = 0;  // decoded
  // Both sides after a full exchange (pre-key, reply, one more normal message), so that alice's
  // next message and bob's decryption of it continue existing chains: no new ratchet key.
  mrt::SecretBuffer alice_session;
  mrt::SecretBuffer bob_session;

  Fixture() {
    mrt::OlmAccount alice = mrt::OlmAccount::create();
    mrt::OlmAccount bob = mrt::OlmAccount::create();
    alice_key = alice.identity_keys().curve25519;
    bob.generate_one_time_keys(1);
    const std::string otk = bob.one_time_keys().begin()->second;
    bob.mark_keys_as_published();
    bob_account = bob.pickle(pickle_key);

    mrt::OlmSession a =
        mrt::OlmSession::outbound(alice, bob.identity_keys().curve25519, otk).value();
    genuine_pre_key = a.encrypt(mrt::as_bytes("hello"));
    FUZZ_CHECK(genuine_pre_key.type == mrt::OlmMessageType::pre_key);
    const mrt::Bytes raw = *mrt::parse_base64_unpadded(genuine_pre_key.body);
    FUZZ_CHECK(raw[kVersionByte] == 0x03 && raw[1] == 0x0a && raw[35] == 0x12 && raw[36] == 0x20 &&
               raw[kBaseKeyLastByte + 1] == 0x1a);
    genuine_pre_key_size = raw.size();
    auto [b, plain] = mrt::OlmSession::inbound(bob, alice_key, genuine_pre_key).value();
    FUZZ_CHECK(mrt::as_chars(plain.view()) == "hello");
    FUZZ_CHECK(static_cast<bool>(a.decrypt(b.encrypt(mrt::as_bytes("reply")))));
    FUZZ_CHECK(static_cast<bool>(b.decrypt(a.encrypt(mrt::as_bytes("again")))));
    alice_session = a.pickle(pickle_key);
    bob_session = b.pickle(pickle_key);
  }
};

bool same(const mrt::SecretBuffer& a, const mrt::SecretBuffer& b) {
  return a.size() == b.size() && std::equal(a.view().begin(), a.view().end(), b.view().begin());
}

std::uint8_t nonzero(std::uint8_t flip) {
  return flip == 0 ? 0x80 : flip;
}

// `m` with the byte at `position` (modulo its decoded length) xored with `flip`.
mrt::OlmMessage with_one_byte_changed(const mrt::OlmMessage& m, std::size_t position,
                                      std::uint8_t flip) {
  mrt::Bytes raw = *mrt::parse_base64_unpadded(m.body);
  raw[position % raw.size()] ^= nonzero(flip);
  return {m.type, mrt::base64_unpadded(raw)};
}

bool unauthenticated_change(std::size_t position, std::uint8_t flip) {
  return position == kVersionByte || (position == kBaseKeyLastByte && nonzero(flip) == 0x80);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const Fixture f;
  const auto type = data[0] % 2 == 0 ? mrt::OlmMessageType::pre_key : mrt::OlmMessageType::normal;
  const std::string_view body = mrt::fuzz::as_text(data + 1, size - 1);
  const mrt::OlmMessage fuzzed{type, std::string(body)};
  const std::size_t position = size > 2   ? (std::size_t{data[1]} << 8 | data[2])
                               : size > 1 ? data[1]
                                          : 0;
  const std::uint8_t flip = data[size - 1];

  // The type byte also picks the harness's own checks (pre-key: bob's account, normal: the round
  // trip), so that an input pays for one 3DH at most.
  // Pre-key messages on bob's account: neither the input (it does not know alice's identity key's
  // secret) nor a one-byte change of alice's genuine message in what Olm authenticates may open a
  // session, and a refusal leaves the account unchanged (its one-time key unspent).
  if (type == mrt::OlmMessageType::pre_key) {
    mrt::OlmAccount bob =
        mrt::OlmAccount::unpickle(mrt::as_chars(f.bob_account.view()), f.pickle_key).value();
    FUZZ_CHECK(!mrt::OlmSession::inbound(bob, f.alice_key, fuzzed));
    FUZZ_CHECK(same(bob.pickle(f.pickle_key), f.bob_account));
    const mrt::OlmMessage changed = with_one_byte_changed(f.genuine_pre_key, position, flip);
    if (auto opened = mrt::OlmSession::inbound(bob, f.alice_key, changed)) {
      FUZZ_CHECK(unauthenticated_change(position % f.genuine_pre_key_size, flip));
      FUZZ_CHECK(mrt::as_chars(opened->second.view()) == "hello");
    } else {
      FUZZ_CHECK(same(bob.pickle(f.pickle_key), f.bob_account));
    }
  }

  // bob's established session: the input never decrypts, nor matches as its pre-key message, and
  // a refusal leaves the session as it was.
  mrt::OlmSession b =
      mrt::OlmSession::unpickle(mrt::as_chars(f.bob_session.view()), f.pickle_key).value();
  FUZZ_CHECK(!b.matches_inbound(f.alice_key, fuzzed));
  FUZZ_CHECK(!b.decrypt(fuzzed));
  FUZZ_CHECK(same(b.pickle(f.pickle_key), f.bob_session));

  if (type == mrt::OlmMessageType::pre_key) return 0;

  // Round trip through alice's next message, refused first with one byte changed.
  mrt::OlmSession a =
      mrt::OlmSession::unpickle(mrt::as_chars(f.alice_session.view()), f.pickle_key).value();
  const mrt::OlmMessage mine = a.encrypt(mrt::as_bytes(body));
  FUZZ_CHECK(mine.type == mrt::OlmMessageType::normal);
  FUZZ_CHECK(!b.decrypt(with_one_byte_changed(mine, position, flip)));
  FUZZ_CHECK(same(b.pickle(f.pickle_key), f.bob_session));
  auto got = b.decrypt(mine);
  FUZZ_CHECK(got && mrt::as_chars(got->view()) == body);
  return 0;
}
