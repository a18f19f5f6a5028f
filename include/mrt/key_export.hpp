// File: mrt/key_export.hpp
//
// The Matrix spec's encrypted room-key export file ("-----BEGIN MEGOLM SESSION DATA-----"),
// the format Element, matrix-sdk-crypto and mrt exchange Megolm sessions in:
//   base64( 0x01 | salt(16) | iv(16) | rounds (u32 BE) | AES-256-CTR(JSON) | HMAC-SHA-256 )
// with AES key || HMAC key = PBKDF2-HMAC-SHA-512(passphrase, salt, rounds, 64 bytes); bit 63 of
// the IV is clear. The JSON is the array of exported sessions; this layer only seals it.
//
//   std::string file = mrt::encrypt_key_export(sessions_json, mrt::as_bytes(passphrase));
//   auto back = mrt::decrypt_key_export(file, mrt::as_bytes(passphrase));  // Result<json, …>
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <mrt/bytes.hpp>
#include <mrt/result.hpp>

namespace mrt {

inline constexpr std::uint32_t kKeyExportRounds = 500'000;  // what Element writes
// Readers refuse more rounds than this: a file must not cost minutes to open.
inline constexpr std::uint32_t kMaxKeyExportRounds = 10'000'000;

enum class KeyExportError : int {
  missing_armor = 1,  // no BEGIN/END MEGOLM SESSION DATA lines
  bad_base64 = 2,
  too_short = 3,  // fewer bytes than header and MAC
  unsupported_version = 4,
  too_many_rounds = 5,   // beyond kMaxKeyExportRounds (or zero)
  wrong_passphrase = 6,  // HMAC mismatch: wrong passphrase, or the file was modified
  not_json = 7,          // decrypts, but is not a JSON array
};
std::string_view to_string(KeyExportError e);

// `sessions` must be a JSON array (std::invalid_argument otherwise). Lines of 96 base64 digits.
std::string encrypt_key_export(const nlohmann::json& sessions, ByteView passphrase,
                               std::uint32_t rounds = kKeyExportRounds);

[[nodiscard]] Result<nlohmann::json, KeyExportError> decrypt_key_export(std::string_view file,
                                                                        ByteView passphrase);
// The decrypted payload as it is, before it is read as JSON.
[[nodiscard]] Result<SecretBuffer, KeyExportError> decrypt_key_export_payload(std::string_view file,
                                                                              ByteView passphrase);

}  // namespace mrt
