#include <gtest/gtest.h>

#include <mrt/matrix_signing.hpp>
#include <mrt/megolm.hpp>

namespace mrt {
namespace {

std::string text(const SecretBuffer& b) {
  return std::string(as_chars(b.view()));
}

class Megolm : public ::testing::Test {
 protected:
  MegolmOutboundSession out = MegolmOutboundSession::create();
  MegolmInboundSession in = MegolmInboundSession::from_session_key(text(out.session_key())).value();

  std::string flip_decoded_byte(const std::string& b64, std::size_t from_end) {
    Bytes raw = *parse_base64_unpadded(b64);
    raw[raw.size() - from_end] ^= 0x01;
    return base64_unpadded(raw);
  }
};

TEST_F(Megolm, DecryptsWhatItEncrypts) {
  const std::string c = out.encrypt(as_bytes("hello"));
  auto m = in.decrypt(c);
  ASSERT_TRUE(m) << to_string(m.error());
  EXPECT_EQ(text(m->plaintext), "hello");
  EXPECT_EQ(m->message_index, 0u);
}

TEST_F(Megolm, IndicesAdvance) {
  (void)out.encrypt(as_bytes("a"));
  (void)out.encrypt(as_bytes("b"));
  EXPECT_EQ(out.message_index(), 2u);
  EXPECT_EQ(in.decrypt(out.encrypt(as_bytes("c")))->message_index, 2u);
}

TEST_F(Megolm, SessionIdsAgree) {
  EXPECT_EQ(in.session_id(), out.session_id());
}

TEST_F(Megolm, EmptyPlaintextRoundTrips) {
  EXPECT_EQ(text(in.decrypt(out.encrypt({}))->plaintext), "");
}

TEST_F(Megolm, ExportedKeyDecryptsFromItsIndexOn) {
  const std::string early = out.encrypt(as_bytes("early"));
  const std::string late = out.encrypt(as_bytes("late"));
  auto exported = in.export_at(1).value();
  auto imported = MegolmInboundSession::from_exported_key(text(exported)).value();
  EXPECT_EQ(imported.first_known_index(), 1u);
  EXPECT_EQ(text(imported.decrypt(late)->plaintext), "late");
  EXPECT_EQ(imported.decrypt(early).error(), MegolmError::unknown_message_index);
}

TEST_F(Megolm, AnExportedKeyIsNotASessionKey) {
  auto exported = in.export_at(0).value();
  EXPECT_EQ(MegolmInboundSession::from_session_key(text(exported)).error(),
            MegolmError::bad_session_key);
}

TEST_F(Megolm, ATamperedSessionKeySignatureIsRefused) {
  EXPECT_EQ(
      MegolmInboundSession::from_session_key(flip_decoded_byte(text(out.session_key()), 1)).error(),
      MegolmError::bad_session_key);
}

TEST_F(Megolm, AFlippedMacByteFailsTheSignatureThatCoversIt) {
  const std::string c = out.encrypt(as_bytes("x"));
  EXPECT_EQ(in.decrypt(flip_decoded_byte(c, 64 + 1)).error(), MegolmError::bad_signature);
}

TEST_F(Megolm, AWrongRatchetFailsTheMac) {
  // An exported key carries no signature: change its ratchet and only the MAC can tell.
  Bytes exported = *parse_base64_unpadded(text(in.export_at(0).value()));
  exported[5] ^= 0x01;  // first ratchet byte, after version (1) and index (4)
  auto forged = MegolmInboundSession::from_exported_key(base64_unpadded(exported)).value();
  EXPECT_EQ(forged.decrypt(out.encrypt(as_bytes("x"))).error(), MegolmError::bad_mac);
}

TEST_F(Megolm, AFlippedSignatureByteIsBadSignature) {
  const std::string c = out.encrypt(as_bytes("x"));
  EXPECT_EQ(in.decrypt(flip_decoded_byte(c, 1)).error(), MegolmError::bad_signature);
}

TEST_F(Megolm, AnotherSessionsMessageDoesNotDecrypt) {
  auto other = MegolmOutboundSession::create();
  EXPECT_FALSE(in.decrypt(other.encrypt(as_bytes("x"))));
}

TEST_F(Megolm, GarbageIsAReasonNeverACrash) {
  EXPECT_EQ(in.decrypt("not base64!").error(), MegolmError::bad_base64);
  EXPECT_EQ(in.decrypt(out.encrypt(as_bytes("x")) + "A=").error(), MegolmError::bad_base64);
  EXPECT_EQ(in.decrypt("").error(), MegolmError::bad_message_format);
  EXPECT_EQ(in.decrypt("AwAB").error(), MegolmError::bad_message_format);
  EXPECT_EQ(in.decrypt(std::string(kMaxMegolmCiphertext + 4, 'A')).error(),
            MegolmError::message_too_large);
  const std::string c = out.encrypt(as_bytes("truncate me"));
  for (std::size_t keep : {std::size_t{4}, c.size() / 2, c.size() - 4}) {
    auto r =
        in.decrypt(base64_unpadded(ByteView(*parse_base64_unpadded(c.substr(0, keep - keep % 4)))));
    EXPECT_FALSE(r) << keep;
  }
}

TEST_F(Megolm, PaddedCiphertextIsAcceptedPaddedKeysAreNot) {
  std::string c = out.encrypt(as_bytes("padded"));
  while (c.size() % 4 != 0) c += '=';
  EXPECT_EQ(text(in.decrypt(c)->plaintext), "padded");
  std::string key = text(out.session_key());
  while (key.size() % 4 != 0) key += '=';
  if (key.ends_with('=')) {
    EXPECT_EQ(MegolmInboundSession::from_session_key(key).error(), MegolmError::bad_base64);
  }
}

TEST_F(Megolm, PicklesRoundTripUnderTheirKey) {
  const Bytes key(kPickleKeySize, 9);
  const std::string c = out.encrypt(as_bytes("after"));
  auto in2 = MegolmInboundSession::unpickle(text(in.pickle(key)), key).value();
  auto out2 = MegolmOutboundSession::unpickle(text(out.pickle(key)), key).value();
  EXPECT_EQ(text(in2.decrypt(c)->plaintext), "after");
  EXPECT_EQ(out2.message_index(), out.message_index());
}

TEST_F(Megolm, AWrongPickleKeyIsBadPickle) {
  const SecretBuffer pickle = in.pickle(Bytes(kPickleKeySize, 9));
  EXPECT_EQ(MegolmInboundSession::unpickle(text(pickle), Bytes(kPickleKeySize, 8)).error(),
            MegolmError::bad_pickle);
  EXPECT_EQ(MegolmInboundSession::unpickle("garbage", Bytes(kPickleKeySize, 8)).error(),
            MegolmError::bad_pickle);
}

}  // namespace
}  // namespace mrt
