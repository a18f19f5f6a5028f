#include <filesystem>
#include <fstream>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <mrt/keystore.hpp>

#include "testing/temp_dir.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

class Keystore : public ::testing::Test {
 protected:
  PrivateKey key = PrivateKey::generate();
  std::string password = "correct horse";
  json file = encrypt_keystore(key, as_bytes(password), ScryptParams::light());

  KeystoreError refusal(const json& ks, std::string_view pw) {
    auto r = decrypt_keystore(ks, as_bytes(pw));
    EXPECT_FALSE(r);
    return r ? KeystoreError{} : r.error().code;
  }
};

TEST_F(Keystore, RoundTrips) {
  auto back = decrypt_keystore(file, as_bytes(password));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->address(), key.address());
}

TEST_F(Keystore, WritesGethsLayout) {
  EXPECT_EQ(file["version"], 3);
  EXPECT_EQ(file["address"], key.address().to_hex().substr(2));
  EXPECT_EQ(file["crypto"]["cipher"], "aes-128-ctr");
  EXPECT_EQ(file["crypto"]["kdf"], "scrypt");
  EXPECT_EQ(file["crypto"]["kdfparams"]["n"], 4096);
  EXPECT_EQ(file["crypto"]["kdfparams"]["r"], 8);
  EXPECT_EQ(file["crypto"]["kdfparams"]["p"], 1);
  EXPECT_EQ(file["crypto"]["kdfparams"]["dklen"], 32);
  EXPECT_EQ(file["id"].get<std::string>().size(), 36u);
}

TEST_F(Keystore, StandardParametersAreGeths) {
  const ScryptParams p = ScryptParams::standard();
  EXPECT_EQ(p.n, 262144u);
  EXPECT_EQ(p.r, 8u);
  EXPECT_EQ(p.p, 1u);
}

TEST_F(Keystore, SaltAndIvAreFreshEachTime) {
  json again = encrypt_keystore(key, as_bytes(password), ScryptParams::light());
  EXPECT_NE(again["crypto"]["kdfparams"]["salt"], file["crypto"]["kdfparams"]["salt"]);
  EXPECT_NE(again["crypto"]["cipherparams"]["iv"], file["crypto"]["cipherparams"]["iv"]);
}

TEST_F(Keystore, WrongPasswordIsWrongPassword) {
  EXPECT_EQ(refusal(file, "incorrect horse"), KeystoreError::wrong_password);
}

TEST_F(Keystore, TamperedCiphertextFailsTheMac) {
  std::string ct = file["crypto"]["ciphertext"];
  ct[0] = ct[0] == '0' ? '1' : '0';
  file["crypto"]["ciphertext"] = ct;
  EXPECT_EQ(refusal(file, password), KeystoreError::wrong_password);
}

TEST_F(Keystore, TruncatedMacIsMalformed) {
  file["crypto"]["mac"] = file["crypto"]["mac"].get<std::string>().substr(2);
  EXPECT_EQ(refusal(file, password), KeystoreError::malformed);
}

TEST_F(Keystore, AddressOfAnotherAccountIsRefused) {
  file["address"] = PrivateKey::generate().address().to_hex().substr(2);
  EXPECT_EQ(refusal(file, password), KeystoreError::address_mismatch);
}

TEST_F(Keystore, CapitalisedCryptoIsAccepted) {
  file["Crypto"] = file["crypto"];
  file.erase("crypto");
  EXPECT_TRUE(decrypt_keystore(file, as_bytes(password)));
}

TEST_F(Keystore, BothCryptoSpellingsAreMalformed) {
  file["Crypto"] = file["crypto"];
  EXPECT_EQ(refusal(file, password), KeystoreError::malformed);
}

TEST_F(Keystore, MissingAddressIsAccepted) {
  file.erase("address");
  EXPECT_TRUE(decrypt_keystore(file, as_bytes(password)));
}

TEST_F(Keystore, OtherVersionIsUnsupported) {
  file["version"] = 4;
  EXPECT_EQ(refusal(file, password), KeystoreError::unsupported);
}

TEST_F(Keystore, OtherCipherIsUnsupported) {
  file["crypto"]["cipher"] = "aes-128-cbc";
  EXPECT_EQ(refusal(file, password), KeystoreError::unsupported);
}

TEST_F(Keystore, HugeScryptCostIsRefusedBeforeWork) {
  file["crypto"]["kdfparams"]["n"] = std::uint64_t{1} << 40;
  EXPECT_EQ(refusal(file, password), KeystoreError::unsafe_parameters);
}

TEST_F(Keystore, ScryptNMustBeAPowerOfTwo) {
  file["crypto"]["kdfparams"]["n"] = 4095;
  EXPECT_EQ(refusal(file, password), KeystoreError::unsafe_parameters);
}

TEST_F(Keystore, ShortDklenIsRefused) {
  file["crypto"]["kdfparams"]["dklen"] = 16;
  EXPECT_EQ(refusal(file, password), KeystoreError::unsafe_parameters);
}

TEST_F(Keystore, UnknownKdfIsUnsupported) {
  file["crypto"]["kdf"] = "argon2id";
  EXPECT_EQ(refusal(file, password), KeystoreError::unsupported);
}

TEST_F(Keystore, PasswordBytesAreNotNormalised) {
  const std::string nfc = "p\xC3\xA4ss";   // ä as one code point
  const std::string nfd = "pa\xCC\x88ss";  // a + combining diaeresis
  json ks = encrypt_keystore(key, as_bytes(nfc), ScryptParams::light());
  EXPECT_TRUE(decrypt_keystore(ks, as_bytes(nfc)));
  EXPECT_EQ(refusal(ks, nfd), KeystoreError::wrong_password);
}

TEST_F(Keystore, EmptyPasswordWorks) {
  json ks = encrypt_keystore(key, {}, ScryptParams::light());
  EXPECT_TRUE(decrypt_keystore(ks, {}));
}

TEST_F(Keystore, NonObjectIsMalformed) {
  EXPECT_EQ(refusal(json::array(), password), KeystoreError::malformed);
}

class KeystoreFile : public Keystore {
 protected:
  fs::path dir = testing::fresh_dir("keystore");
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }
};

TEST_F(KeystoreFile, WritesMode0600AndReadsBack) {
  const fs::path path = dir / "ks.json";
  ASSERT_TRUE(write_keystore_file(path, file));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = read_keystore_file(path);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, file);
}

TEST_F(KeystoreFile, NeverOverwrites) {
  const fs::path path = dir / "ks.json";
  ASSERT_TRUE(write_keystore_file(path, file));
  auto again = write_keystore_file(
      path, encrypt_keystore(PrivateKey::generate(), {}, ScryptParams::light()));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, KeystoreError::exists);
  EXPECT_EQ(*read_keystore_file(path), file);
}

TEST_F(KeystoreFile, LeavesNoTemporaryFiles) {
  ASSERT_TRUE(write_keystore_file(dir / "ks.json", file));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST_F(KeystoreFile, MissingFileIsAnIoError) {
  EXPECT_EQ(read_keystore_file(dir / "absent.json").error().code, KeystoreError::io);
}

TEST_F(KeystoreFile, NonJsonFileIsMalformed) {
  std::ofstream(dir / "bad.json") << "{not json";
  EXPECT_EQ(read_keystore_file(dir / "bad.json").error().code, KeystoreError::malformed);
}

TEST_F(KeystoreFile, AnEndlessFileIsRefusedNotReadWhole) {
  EXPECT_EQ(read_keystore_file("/dev/zero").error().code, KeystoreError::malformed);
}

TEST_F(KeystoreFile, MissingDirectoryIsAnIoError) {
  EXPECT_EQ(write_keystore_file(dir / "no" / "ks.json", file).error().code, KeystoreError::io);
}

}  // namespace
}  // namespace mrt
