// Fuzz target: keystore v3 files (parse_json_strict + decrypt_keystore), as `mrt` reads a file a
// user hands it.
//
// Input: JSON text. Keystores whose kdfparams would cost more than kMaxFuzzKdfCost (scrypt
// n*r*p, pbkdf2 c) are skipped before decryption so that the fuzzer stays fast; the library's
// own limits are tested in tests/crypto/keystore_test.cpp. The password is fixed (kPassword, the
// one fuzz/seeds.mjs encrypts its seed keystores with). Properties:
// - decrypt_keystore never crashes or throws on any parsed JSON, and every refusal has a message;
// - a keystore that opens holds a valid key whose address is the one the file names (if any);
// - the same keystore with another password is refused as wrong_password (the MAC binds it);
// - the key re-encrypted by encrypt_keystore (cheap scrypt) opens again to the same key.
#include <cstdint>

#include <mrt/canonical_json.hpp>
#include <mrt/keystore.hpp>

#include "fuzz_common.hpp"

namespace {

constexpr std::string_view kPassword = "mrt fuzz password";
constexpr std::string_view kOtherPassword = "mrt fuzz password?";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = mrt::parse_json_strict(mrt::fuzz::as_text(data, size));
  if (!parsed) return 0;
  const nlohmann::json& keystore = *parsed;
  if (mrt::fuzz::keystore_is_expensive(keystore)) return 0;

  auto key = mrt::decrypt_keystore(keystore, mrt::as_bytes(kPassword));
  if (!key) {
    FUZZ_CHECK(!key.error().message.empty());
    FUZZ_CHECK(key.error().code != mrt::KeystoreError::io &&
               key.error().code != mrt::KeystoreError::exists);
    return 0;
  }

  // The address field, when present, names the key inside (hex, either case, optional 0x).
  if (keystore.contains("address")) {
    std::string claimed = keystore["address"].get<std::string>();
    if (claimed.starts_with("0x")) claimed.erase(0, 2);
    for (char& c : claimed) c = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    FUZZ_CHECK("0x" + claimed == key->address().to_hex());
  }
  FUZZ_CHECK(mrt::PrivateKey::from_bytes(key->secret()).ok());

  auto wrong = mrt::decrypt_keystore(keystore, mrt::as_bytes(kOtherPassword));
  FUZZ_CHECK(!wrong && wrong.error().code == mrt::KeystoreError::wrong_password);

  const nlohmann::json rewritten =
      mrt::encrypt_keystore(*key, mrt::as_bytes(kPassword), mrt::ScryptParams{2, 1, 1});
  auto reopened = mrt::decrypt_keystore(rewritten, mrt::as_bytes(kPassword));
  FUZZ_CHECK(reopened.ok() && reopened->address() == key->address());
  const auto a = reopened->secret(), b = key->secret();
  FUZZ_CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  return 0;
}
