// File: mrt/keystore.hpp
//
// Ethereum keystore v3 files (Web3 Secret Storage), compatible with geth and ethers: read
// scrypt and pbkdf2 (hmac-sha256) keystores, write scrypt ones. AES-128-CTR; the MAC is
// keccak256(dk[16..32] || ciphertext), compared in constant time. The password is its raw bytes
// (no Unicode normalisation), as geth uses it.
//
//   auto ks = mrt::read_keystore_file("node.json");
//   auto key = mrt::decrypt_keystore(*ks, mrt::as_bytes(password));
//   if (!key && key.error().code == mrt::KeystoreError::wrong_password) ask_again();
//
//   auto file = mrt::encrypt_keystore(mrt::PrivateKey::generate(), password_bytes);
//   mrt::write_keystore_file("new.json", file).value();  // 0600, atomic, never overwrites
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include <mrt/eth.hpp>
#include <mrt/result.hpp>

namespace mrt {

struct ScryptParams {
  std::uint64_t n;
  std::uint32_t r;
  std::uint32_t p;
  static constexpr ScryptParams standard() { return {262144, 8, 1}; }  // geth's default
  static constexpr ScryptParams light() { return {4096, 8, 1}; }       // geth's --lightkdf
};

// Limits on what a keystore may ask of us, so a hostile file can not exhaust memory or time:
// scrypt memory 128 * r * n <= 1 GiB and n * r * p <= 2^25 (16 times geth's standard cost);
// pbkdf2 iterations <= 10,000,000.
inline constexpr std::uint64_t kMaxScryptMemory = std::uint64_t{1} << 30;
inline constexpr std::uint64_t kMaxScryptCost = std::uint64_t{1} << 25;
inline constexpr std::uint64_t kMaxPbkdf2Iterations = 10'000'000;
// read_keystore_file refuses larger files (malformed) without reading them whole.
inline constexpr std::size_t kMaxKeystoreFileBytes = std::size_t{1} << 20;

enum class KeystoreError : int {
  malformed = 1,          // not JSON, a field missing or of the wrong type or size
  unsupported = 2,        // version other than 3, unknown cipher, kdf or prf
  unsafe_parameters = 3,  // kdf parameters invalid or beyond the limits above
  wrong_password = 4,     // MAC mismatch: wrong password (or a modified ciphertext or MAC)
  address_mismatch = 5,   // the `address` field names another account than the key inside
  invalid_key = 6,        // decrypts (MAC matches) to something that is not a secp256k1 key
  io = 7,                 // the file could not be read or written
  exists = 8,             // refusing to overwrite an existing file
};
std::string_view to_string(KeystoreError e);

struct KeystoreFailure {
  KeystoreError code;
  std::string message;
};

[[nodiscard]] Result<PrivateKey, KeystoreFailure> decrypt_keystore(const nlohmann::json& keystore,
                                                                   ByteView password);
// A fresh random salt, IV and id on every call.
nlohmann::json encrypt_keystore(const PrivateKey& key, ByteView password,
                                ScryptParams params = ScryptParams::standard());

[[nodiscard]] Result<nlohmann::json, KeystoreFailure> read_keystore_file(
    const std::filesystem::path& path);
// Writes atomically (temporary file, fsync, link into place, fsync of the directory) with mode
// 0600. Refuses (`exists`) if `path` already exists: a keystore is never overwritten.
[[nodiscard]] Result<Unit, KeystoreFailure> write_keystore_file(const std::filesystem::path& path,
                                                                const nlohmann::json& keystore);

}  // namespace mrt
