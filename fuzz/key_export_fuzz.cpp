// Fuzz target: room-key export files (a user imports files from anywhere).
//
// Input: file text. Properties:
// - decrypt_key_export never crashes or throws; inputs that would cost more than 1,000 PBKDF2
//   rounds are skipped (the library's own limit is tested in tests/crypto/key_export_test.cpp);
// - a file the harness writes around the input (as a JSON string) opens to exactly that
//   content, and with another passphrase reports wrong_passphrase.
#include <mrt/key_export.hpp>
#include <mrt/matrix_signing.hpp>

#include "fuzz_common.hpp"

namespace {

// The rounds a file asks for, read the way the library reads it; 0 when the library refuses the
// file before deriving anything.
std::uint32_t rounds_of(std::string_view file) {
  constexpr std::string_view kBegin = "-----BEGIN MEGOLM SESSION DATA-----";
  const auto begin = file.find(kBegin);
  const auto end =
      file.find("-----END MEGOLM SESSION DATA-----", begin == std::string_view::npos ? 0 : begin);
  if (begin == std::string_view::npos || end == std::string_view::npos) return 0;
  std::string b64;
  for (char c : file.substr(begin + kBegin.size(), end - begin - kBegin.size())) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') b64 += c;
  }
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  const auto body = mrt::parse_base64_unpadded(b64);
  if (!body || body->size() < 37 + 32) return 0;
  return static_cast<std::uint32_t>((*body)[33]) << 24 | (*body)[34] << 16 | (*body)[35] << 8 |
         (*body)[36];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = mrt::fuzz::as_text(data, size);
  if (rounds_of(text) <= 1000) (void)mrt::decrypt_key_export(text, mrt::as_bytes("pass"));

  const nlohmann::json content = nlohmann::json::array({std::string(text)});
  if (!mrt::fuzz::valid_utf8(text)) return 0;
  const std::string file = mrt::encrypt_key_export(content, mrt::as_bytes("pass"), 2);
  auto back = mrt::decrypt_key_export(file, mrt::as_bytes("pass"));
  FUZZ_CHECK(back && *back == content);
  auto wrong = mrt::decrypt_key_export(file, mrt::as_bytes("other"));
  FUZZ_CHECK(!wrong && wrong.error() == mrt::KeyExportError::wrong_passphrase);
  return 0;
}
