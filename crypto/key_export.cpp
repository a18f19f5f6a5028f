#include <nettle/aes.h>
#include <nettle/ctr.h>
#include <nettle/hmac.h>
#include <nettle/pbkdf2.h>
#include <sodium.h>

#include <mrt/canonical_json.hpp>
#include <mrt/key_export.hpp>
#include <mrt/matrix_signing.hpp>

#include "core/sodium_init.hpp"
#include "non_null.hpp"

namespace mrt {
namespace {

constexpr std::string_view kBegin = "-----BEGIN MEGOLM SESSION DATA-----";
constexpr std::string_view kEnd = "-----END MEGOLM SESSION DATA-----";
constexpr std::size_t kHeader = 1 + 16 + 16 + 4;
constexpr std::size_t kMac = 32;

struct Keys {
  SecretBuffer aes{32};
  SecretBuffer hmac{32};
};

Keys derive(ByteView passphrase, ByteView salt, std::uint32_t rounds) {
  SecretBuffer both(64);
  pbkdf2_hmac_sha512(passphrase.size(), detail::non_null(passphrase), rounds, salt.size(),
                     salt.data(), both.size(), both.data());
  Keys k;
  std::copy_n(both.data(), 32, k.aes.data());
  std::copy_n(both.data() + 32, 32, k.hmac.data());
  return k;
}

void aes256_ctr(const SecretBuffer& key, ByteView iv, ByteView in, std::uint8_t* out) {
  if (in.empty()) return;
  aes256_ctx ctx;
  aes256_set_encrypt_key(&ctx, key.data());
  std::uint8_t counter[16];
  std::copy(iv.begin(), iv.end(), counter);
  ctr_crypt(&ctx, reinterpret_cast<nettle_cipher_func*>(aes256_encrypt), AES_BLOCK_SIZE, counter,
            in.size(), out, in.data());
  sodium_memzero(&ctx, sizeof ctx);
}

std::array<std::uint8_t, kMac> hmac(const SecretBuffer& key, ByteView data) {
  hmac_sha256_ctx ctx;
  hmac_sha256_set_key(&ctx, key.size(), key.data());
  hmac_sha256_update(&ctx, data.size(), data.data());
  std::array<std::uint8_t, kMac> out;
  hmac_sha256_digest(&ctx, out.size(), out.data());
  sodium_memzero(&ctx, sizeof ctx);
  return out;
}

}  // namespace

std::string_view to_string(KeyExportError e) {
  switch (e) {
    case KeyExportError::missing_armor:
      return "missing_armor";
    case KeyExportError::bad_base64:
      return "bad_base64";
    case KeyExportError::too_short:
      return "too_short";
    case KeyExportError::unsupported_version:
      return "unsupported_version";
    case KeyExportError::too_many_rounds:
      return "too_many_rounds";
    case KeyExportError::wrong_passphrase:
      return "wrong_passphrase";
    case KeyExportError::not_json:
      return "not_json";
  }
  return "unknown";
}

std::string encrypt_key_export(const nlohmann::json& sessions, ByteView passphrase,
                               std::uint32_t rounds) {
  if (!sessions.is_array()) throw std::invalid_argument("a key export holds a JSON array");
  if (rounds == 0 || rounds > kMaxKeyExportRounds) {
    throw std::invalid_argument("key export rounds must be 1..10000000");
  }
  std::string json = sessions.dump();  // the export's JSON need not be canonical
  detail::ensure_sodium();
  Bytes body(kHeader + json.size() + kMac);
  body[0] = 0x01;
  randombytes_buf(body.data() + 1, 32);  // salt and IV
  body[1 + 16 + 8] &= 0x7f;              // bit 63 of the IV: the counter never wraps
  for (int i = 0; i < 4; ++i) body[33 + i] = static_cast<std::uint8_t>(rounds >> (24 - 8 * i));
  const Keys keys = derive(passphrase, ByteView(body).subspan(1, 16), rounds);
  aes256_ctr(keys.aes, ByteView(body).subspan(17, 16), as_bytes(json), body.data() + kHeader);
  wipe(json);
  const auto mac = hmac(keys.hmac, ByteView(body).first(body.size() - kMac));
  std::copy(mac.begin(), mac.end(), body.end() - kMac);

  std::string b64(sodium_base64_encoded_len(body.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), body.data(), body.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  b64.resize(b64.size() - 1);
  std::string out = std::string(kBegin) + "\n";
  for (std::size_t i = 0; i < b64.size(); i += 96) out += b64.substr(i, 96) + "\n";
  return out + std::string(kEnd) + "\n";
}

Result<SecretBuffer, KeyExportError> decrypt_key_export_payload(std::string_view file,
                                                                ByteView passphrase) {
  const auto begin = file.find(kBegin);
  const auto end = file.find(kEnd, begin == std::string_view::npos ? 0 : begin);
  if (begin == std::string_view::npos || end == std::string_view::npos) {
    return fail(KeyExportError::missing_armor);
  }
  // The armored text: base64 spread over lines, padded or not.
  std::string b64;
  for (char c : file.substr(begin + kBegin.size(), end - begin - kBegin.size())) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') b64 += c;
  }
  // The strict decoder: libsodium alone would read 0xff as '/' (see base64.cpp).
  auto decoded = parse_base64_unpadded(b64);
  if (!decoded) return fail(KeyExportError::bad_base64);
  const Bytes& body = *decoded;
  if (body.size() < kHeader + kMac) return fail(KeyExportError::too_short);
  if (body[0] != 0x01) return fail(KeyExportError::unsupported_version);
  std::uint32_t rounds = 0;
  for (int i = 0; i < 4; ++i) rounds = rounds << 8 | body[33 + i];
  if (rounds == 0 || rounds > kMaxKeyExportRounds) return fail(KeyExportError::too_many_rounds);

  const Keys keys = derive(passphrase, ByteView(body).subspan(1, 16), rounds);
  const auto mac = hmac(keys.hmac, ByteView(body).first(body.size() - kMac));
  if (sodium_memcmp(mac.data(), body.data() + body.size() - kMac, kMac) != 0) {
    return fail(KeyExportError::wrong_passphrase);
  }
  const ByteView ciphertext = ByteView(body).subspan(kHeader, body.size() - kHeader - kMac);
  SecretBuffer plain(ciphertext.size());
  aes256_ctr(keys.aes, ByteView(body).subspan(17, 16), ciphertext, plain.data());
  return plain;
}

Result<nlohmann::json, KeyExportError> decrypt_key_export(std::string_view file,
                                                          ByteView passphrase) {
  auto plain = decrypt_key_export_payload(file, passphrase);
  if (!plain) return fail(plain.error());
  auto parsed = nlohmann::json::parse(as_chars(plain->view()), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_array()) return fail(KeyExportError::not_json);
  return parsed;
}

}  // namespace mrt
