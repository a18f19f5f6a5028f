#include <gtest/gtest.h>

#include <mrt/key_export.hpp>
#include <mrt/matrix_signing.hpp>

namespace mrt {
namespace {

using json = nlohmann::json;

const json kSessions = json::array({{{"algorithm", "m.megolm.v1.aes-sha2"},
                                     {"room_id", "!r:localhost"},
                                     {"session_id", "abc"},
                                     {"session_key", "AQAAAA"},
                                     {"sender_key", "curve"},
                                     {"forwarding_curve25519_key_chain", json::array()}}});

TEST(KeyExport, OpensElementsTestVector) {
  // matrix-react-sdk's own test file: passphrase "password", 10 rounds, payload "plain".
  const std::string element =
      "-----BEGIN MEGOLM SESSION DATA-----\n"
      "AXNhbHRzYWx0c2FsdHNhbHSIiIiIiIiIiIiIiIiIiIiIAAAACmIRUW2OjZ3L2l6j9h0lHlV3M2dx\n"
      "cissyYBxjsfsAndErh065A8=\n"
      "-----END MEGOLM SESSION DATA-----";
  auto plain = decrypt_key_export_payload(element, as_bytes("password"));
  ASSERT_TRUE(plain) << to_string(plain.error());
  EXPECT_EQ(as_chars(plain->view()), "plain");
  EXPECT_EQ(decrypt_key_export(element, as_bytes("password")).error(), KeyExportError::not_json);
}

TEST(KeyExport, RoundTrips) {
  const std::string file = encrypt_key_export(kSessions, as_bytes("pass phrase"), 1000);
  EXPECT_TRUE(file.starts_with("-----BEGIN MEGOLM SESSION DATA-----\n"));
  EXPECT_TRUE(file.ends_with("-----END MEGOLM SESSION DATA-----\n"));
  EXPECT_EQ(*decrypt_key_export(file, as_bytes("pass phrase")), kSessions);
}

// The body of an export file, decoded.
Bytes body_of(const std::string& file) {
  std::string b64;
  for (char c : file.substr(36, file.find("-----END") - 36)) {
    if (c != '\n' && c != '=') b64 += c;
  }
  return *parse_base64_unpadded(b64);
}

std::string file_of(const Bytes& body) {
  return "-----BEGIN MEGOLM SESSION DATA-----\n" + base64_unpadded(body) +
         "\n-----END MEGOLM SESSION DATA-----";
}

TEST(KeyExport, TheIvHasBit63Clear) {
  for (int i = 0; i < 16; ++i) {
    const Bytes body = body_of(encrypt_key_export(kSessions, {}, 1));
    EXPECT_EQ(body[1 + 16 + 8] & 0x80, 0);
  }
}

TEST(KeyExport, UnpaddedAndRewrappedFilesOpenToo) {
  const std::string file = encrypt_key_export(kSessions, as_bytes("p"), 10);
  EXPECT_EQ(*decrypt_key_export(file_of(body_of(file)), as_bytes("p")), kSessions);
}

TEST(KeyExport, AWrongPassphraseIsReported) {
  const std::string file = encrypt_key_export(kSessions, as_bytes("right"), 10);
  EXPECT_EQ(decrypt_key_export(file, as_bytes("wrong")).error(), KeyExportError::wrong_passphrase);
}

TEST(KeyExport, AModifiedFileFailsItsMac) {
  std::string file = encrypt_key_export(kSessions, as_bytes("p"), 10);
  file[60] = file[60] == 'A' ? 'B' : 'A';
  EXPECT_EQ(decrypt_key_export(file, as_bytes("p")).error(), KeyExportError::wrong_passphrase);
}

TEST(KeyExport, MalformedFilesGetTheirReason) {
  EXPECT_EQ(decrypt_key_export("no armor", {}).error(), KeyExportError::missing_armor);
  EXPECT_EQ(decrypt_key_export("-----BEGIN MEGOLM SESSION DATA-----\n!!\n"
                               "-----END MEGOLM SESSION DATA-----",
                               {})
                .error(),
            KeyExportError::bad_base64);
  EXPECT_EQ(decrypt_key_export("-----BEGIN MEGOLM SESSION DATA-----\nAQID\n"
                               "-----END MEGOLM SESSION DATA-----",
                               {})
                .error(),
            KeyExportError::too_short);
}

TEST(KeyExport, OtherVersionsAndHugeRoundCountsAreRefusedBeforeWork) {
  Bytes body(1 + 16 + 16 + 4 + 32, 0);
  body[0] = 2;
  EXPECT_EQ(decrypt_key_export(file_of(body), {}).error(), KeyExportError::unsupported_version);
  body[0] = 1;
  body[33] = 0xff;  // 4 billion rounds
  EXPECT_EQ(decrypt_key_export(file_of(body), {}).error(), KeyExportError::too_many_rounds);
  body[33] = 0;  // zero rounds
  EXPECT_EQ(decrypt_key_export(file_of(body), {}).error(), KeyExportError::too_many_rounds);
}

TEST(KeyExport, OnlyAnArrayCanBeExported) {
  EXPECT_THROW(encrypt_key_export(json::object(), {}, 1), std::invalid_argument);
}

}  // namespace
}  // namespace mrt
