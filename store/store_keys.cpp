#include "store_keys.hpp"

#include <stdexcept>

#include <sodium.h>

#include "core/sodium_init.hpp"

namespace mrt::store::detail {
namespace {

constexpr char kContext[crypto_kdf_CONTEXTBYTES + 1] = "mrtstore";
static_assert(sizeof(kContext) - 1 == crypto_kdf_CONTEXTBYTES);
static_assert(crypto_kdf_KEYBYTES == StoreKey::kSize);

SecretBuffer subkey(const StoreKey& root, std::uint64_t id) {
  SecretBuffer key(32);
  crypto_kdf_derive_from_key(key.data(), key.size(), id, kContext, root.bytes().data());
  return key;
}

Bytes associated_data(std::string_view table, ByteView record_key) {
  Bytes ad;
  ad.reserve(1 + table.size() + record_key.size());
  ad.push_back(static_cast<std::uint8_t>(table.size()));
  ad.insert(ad.end(), table.begin(), table.end());
  ad.insert(ad.end(), record_key.begin(), record_key.end());
  return ad;
}

}  // namespace

StoreKeys StoreKeys::derive(const StoreKey& root) {
  mrt::detail::ensure_sodium();
  StoreKeys keys{subkey(root, 1), subkey(root, 2), Bytes(32)};
  const SecretBuffer check_key = subkey(root, 3);
  const std::string_view label = "mrt store key check v1";
  crypto_generichash(keys.check.data(), keys.check.size(),
                     reinterpret_cast<const unsigned char*>(label.data()), label.size(),
                     check_key.data(), check_key.size());
  return keys;
}

Bytes Sealer::seal(std::string_view table, ByteView record_key, ByteView plaintext) const {
  static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == 24);
  static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == 16);
  static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32);
  if (table.size() > kMaxTableName) {
    throw std::invalid_argument("store: a sealed table's name is at most 255 bytes");
  }
  const Bytes ad = associated_data(table, record_key);
  Bytes out(kOverhead + plaintext.size());
  out[0] = kFormat;
  std::uint8_t* nonce = out.data() + 1;
  randombytes_buf(nonce, 24);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + 25, &written, plaintext.data(),
                                             plaintext.size(), ad.data(), ad.size(), nullptr, nonce,
                                             key_.data());
  return out;
}

std::optional<SecretBuffer> Sealer::open(std::string_view table, ByteView record_key,
                                         ByteView sealed) const {
  if (sealed.size() < kOverhead || sealed[0] != kFormat || table.size() > kMaxTableName) {
    return std::nullopt;
  }
  const Bytes ad = associated_data(table, record_key);
  SecretBuffer plain(sealed.size() - kOverhead);
  unsigned long long written = 0;
  static const std::uint8_t kEmpty = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plain.empty() ? const_cast<std::uint8_t*>(&kEmpty) : plain.data(), &written, nullptr,
          sealed.data() + 25, sealed.size() - 25, ad.data(), ad.size(), sealed.data() + 1,
          key_.data()) != 0) {
    return std::nullopt;
  }
  return plain;
}

}  // namespace mrt::store::detail
