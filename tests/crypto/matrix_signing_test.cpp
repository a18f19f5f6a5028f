#include <gtest/gtest.h>

#include <mrt/matrix_signing.hpp>

namespace mrt {
namespace {

using json = nlohmann::json;

// The Matrix spec's cryptographic test vectors (appendices, "JSON Signing"): server "domain",
// key id ed25519:1, seed "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1" (written here in hex: its
// last base64 digit has non-zero spare bits, which our strict decoder rightly refuses).
Ed25519Key spec_key() {
  return Ed25519Key::from_seed(*parse_hex(
      "0x6090c103d5e7af6b15a970fd563ed75549e6159719ae5c3c31dee4316fb75c0d", HexPrefix::required));
}

TEST(MatrixSigning, MatchesTheSpecExampleForAnEmptyObject) {
  const Ed25519Key key = spec_key();
  auto signed_obj = sign_json(json::object(), "domain", "ed25519:1", key);
  ASSERT_TRUE(signed_obj);
  EXPECT_EQ(
      (*signed_obj)["signatures"]["domain"]["ed25519:1"],
      "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ");
}

TEST(MatrixSigning, MatchesTheSpecExampleForAnObjectWithData) {
  const Ed25519Key key = spec_key();
  json obj = {{"one", 1}, {"two", "Two"}};
  auto signed_obj = sign_json(obj, "domain", "ed25519:1", key);
  EXPECT_EQ(
      (*signed_obj)["signatures"]["domain"]["ed25519:1"],
      "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw");
}

class SignedObject : public ::testing::Test {
 protected:
  Ed25519Key key = Ed25519Key::generate();
  json object = sign_json({{"a", 1}, {"unsigned", {{"age", 5}}}}, "@u:s", "ed25519:D", key).value();
};

TEST_F(SignedObject, Verifies) {
  EXPECT_TRUE(verify_json(object, "@u:s", "ed25519:D", key.public_key()));
}

TEST_F(SignedObject, UnsignedMayChange) {
  object["unsigned"]["age"] = 6;
  EXPECT_TRUE(verify_json(object, "@u:s", "ed25519:D", key.public_key()));
}

TEST_F(SignedObject, ChangedContentFails) {
  object["a"] = 2;
  EXPECT_EQ(verify_json(object, "@u:s", "ed25519:D", key.public_key()).error(),
            JsonSignatureError::bad_signature);
}

TEST_F(SignedObject, AnotherKeyFails) {
  EXPECT_EQ(verify_json(object, "@u:s", "ed25519:D", Ed25519Key::generate().public_key()).error(),
            JsonSignatureError::bad_signature);
}

TEST_F(SignedObject, MissingSignatureIsReported) {
  EXPECT_EQ(verify_json(object, "@v:s", "ed25519:D", key.public_key()).error(),
            JsonSignatureError::missing);
}

TEST_F(SignedObject, PaddedBase64SignatureIsAccepted) {
  object["signatures"]["@u:s"]["ed25519:D"] =
      object["signatures"]["@u:s"]["ed25519:D"].get<std::string>() + "==";
  EXPECT_TRUE(verify_json(object, "@u:s", "ed25519:D", key.public_key()));
}

TEST_F(SignedObject, TruncatedSignatureIsMalformed) {
  object["signatures"]["@u:s"]["ed25519:D"] =
      object["signatures"]["@u:s"]["ed25519:D"].get<std::string>().substr(4);
  EXPECT_EQ(verify_json(object, "@u:s", "ed25519:D", key.public_key()).error(),
            JsonSignatureError::malformed_signature);
}

TEST(MatrixSigning, ObjectWithAFloatCannotBeSigned) {
  EXPECT_FALSE(sign_json({{"a", 1.5}}, "@u:s", "ed25519:D", Ed25519Key::generate()));
}

TEST(MatrixSigning, SignaturesThatAreNotAnObjectAreRefused) {
  const Ed25519Key key = Ed25519Key::generate();
  EXPECT_FALSE(sign_json({{"signatures", 5}}, "@u:s", "ed25519:D", key));
  EXPECT_FALSE(sign_json({{"signatures", {{"@u:s", "x"}}}}, "@u:s", "ed25519:D", key));
}

TEST(MatrixSigning, OtherSignaturesAreKept) {
  const Ed25519Key key = Ed25519Key::generate();
  auto signed_obj =
      sign_json({{"signatures", {{"@v:s", {{"ed25519:E", "x"}}}}}}, "@u:s", "ed25519:D", key);
  ASSERT_TRUE(signed_obj);
  EXPECT_EQ((*signed_obj)["signatures"]["@v:s"]["ed25519:E"], "x");
  EXPECT_TRUE(verify_json(*signed_obj, "@u:s", "ed25519:D", key.public_key()));
}

}  // namespace
}  // namespace mrt
