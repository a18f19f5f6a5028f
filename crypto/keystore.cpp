#include <nettle/aes.h>
#include <nettle/ctr.h>
#include <nettle/pbkdf2.h>
#include <sodium.h>

#include <mrt/keystore.hpp>

#include "core/sodium_init.hpp"
#include "non_null.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;

constexpr std::size_t kDerivedKeySize = 32;  // 16 bytes AES key + 16 bytes MAC key
constexpr std::size_t kIvSize = 16;
constexpr std::size_t kMacSize = 32;
constexpr std::size_t kMaxSaltSize = 1024;

Failure<KeystoreFailure> refuse(KeystoreError code, std::string message) {
  return fail(KeystoreFailure{code, std::move(message)});
}

// Keystore hex: geth writes it bare, ethers accepts and some tools write a 0x prefix; both cases.
Result<Bytes, KeystoreFailure> hex_field(const json& parent, const char* name, std::size_t min_size,
                                         std::size_t max_size) {
  const auto it = parent.find(name);
  if (it == parent.end() || !it->is_string()) {
    return refuse(KeystoreError::malformed,
                  std::string("keystore field \"") + name + "\" is missing or not a string");
  }
  std::string_view text = it->get_ref<const std::string&>();
  const bool prefixed = text.starts_with("0x");
  auto bytes = parse_hex(text, prefixed ? HexPrefix::required : HexPrefix::forbidden, HexCase::any);
  if (!bytes) {
    return refuse(KeystoreError::malformed, std::string("keystore field \"") + name +
                                                "\": " + std::string(to_string(bytes.error())));
  }
  if (bytes->size() < min_size || bytes->size() > max_size) {
    return refuse(KeystoreError::malformed, std::string("keystore field \"") + name + "\" has " +
                                                std::to_string(bytes->size()) + " bytes");
  }
  return std::move(*bytes);
}

Result<std::uint64_t, KeystoreFailure> uint_field(const json& parent, const char* name) {
  const auto it = parent.find(name);
  if (it == parent.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0) {
    return refuse(KeystoreError::malformed, std::string("keystore field \"") + name +
                                                "\" is missing or not a non-negative integer");
  }
  return it->get<std::uint64_t>();
}

Result<std::string, KeystoreFailure> string_field(const json& parent, const char* name) {
  const auto it = parent.find(name);
  if (it == parent.end() || !it->is_string()) {
    return refuse(KeystoreError::malformed,
                  std::string("keystore field \"") + name + "\" is missing or not a string");
  }
  return it->get<std::string>();
}

Result<const json*, KeystoreFailure> object_field(const json& parent, const char* name) {
  const auto it = parent.find(name);
  if (it == parent.end() || !it->is_object()) {
    return refuse(KeystoreError::malformed,
                  std::string("keystore field \"") + name + "\" is missing or not an object");
  }
  return &*it;
}

void scrypt(ByteView password, ByteView salt, ScryptParams params, SecretBuffer& out) {
  detail::ensure_sodium();
  if (crypto_pwhash_scryptsalsa208sha256_ll(detail::non_null(password), password.size(),
                                            detail::non_null(salt), salt.size(), params.n, params.r,
                                            params.p, out.data(), out.size()) != 0) {
    throw std::bad_alloc();  // parameters were checked: only memory can be missing
  }
}

Result<SecretBuffer, KeystoreFailure> derive_key(const json& crypto, ByteView password) {
  auto kdf = string_field(crypto, "kdf");
  if (!kdf) return fail(kdf.error());
  auto params = object_field(crypto, "kdfparams");
  if (!params) return fail(params.error());
  const json& kp = **params;
  auto dklen = uint_field(kp, "dklen");
  if (!dklen) return fail(dklen.error());
  if (*dklen < kDerivedKeySize || *dklen > 64) {
    return refuse(KeystoreError::unsafe_parameters,
                  "kdfparams.dklen must be 32..64, not " + std::to_string(*dklen));
  }
  auto salt = hex_field(kp, "salt", 0, kMaxSaltSize);
  if (!salt) return fail(salt.error());
  SecretBuffer dk(*dklen);

  if (*kdf == "scrypt") {
    auto n = uint_field(kp, "n");
    auto r = uint_field(kp, "r");
    auto p = uint_field(kp, "p");
    for (auto* f : {&n, &r, &p}) {
      if (!*f) return fail(f->error());
    }
    if (*n < 2 || (*n & (*n - 1)) != 0 || *r == 0 || *p == 0 || *r > 1024 || *p > 1024) {
      return refuse(KeystoreError::unsafe_parameters,
                    "scrypt needs n a power of two >= 2 and 1 <= r, p <= 1024");
    }
    if (*n > kMaxScryptMemory / 128 / *r || *n * *r * *p > kMaxScryptCost) {
      return refuse(KeystoreError::unsafe_parameters,
                    "scrypt parameters n=" + std::to_string(*n) + " r=" + std::to_string(*r) +
                        " p=" + std::to_string(*p) + " exceed mrt's memory or cost limit");
    }
    scrypt(password, *salt, {*n, static_cast<std::uint32_t>(*r), static_cast<std::uint32_t>(*p)},
           dk);
  } else if (*kdf == "pbkdf2") {
    auto prf = string_field(kp, "prf");
    if (!prf) return fail(prf.error());
    if (*prf != "hmac-sha256") {
      return refuse(KeystoreError::unsupported, "pbkdf2 prf \"" + *prf + "\" is not hmac-sha256");
    }
    auto c = uint_field(kp, "c");
    if (!c) return fail(c.error());
    if (*c == 0 || *c > kMaxPbkdf2Iterations) {
      return refuse(KeystoreError::unsafe_parameters,
                    "pbkdf2 iteration count " + std::to_string(*c) + " is not in 1..10000000");
    }
    pbkdf2_hmac_sha256(password.size(), detail::non_null(password), static_cast<unsigned>(*c),
                       salt->size(), detail::non_null(*salt), dk.size(), dk.data());
  } else {
    return refuse(KeystoreError::unsupported, "kdf \"" + *kdf + "\" is not scrypt or pbkdf2");
  }
  return dk;
}

void aes128_ctr(ByteView key16, ByteView iv16, ByteView in, std::uint8_t* out) {
  aes128_ctx ctx;
  aes128_set_encrypt_key(&ctx, key16.data());
  std::array<std::uint8_t, kIvSize> counter;
  std::copy(iv16.begin(), iv16.end(), counter.begin());
  ctr_crypt(&ctx, reinterpret_cast<nettle_cipher_func*>(aes128_encrypt), AES_BLOCK_SIZE,
            counter.data(), in.size(), out, in.data());
  sodium_memzero(&ctx, sizeof ctx);
}

Hash256 keystore_mac(ByteView dk, ByteView ciphertext) {
  Keccak256 k;
  k.update(dk.subspan(16, 16));
  k.update(ciphertext);
  return k.finish();
}

std::string uuid_v4() {
  std::array<std::uint8_t, 16> b;
  randombytes_buf(b.data(), b.size());
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  const std::string h = to_hex(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

}  // namespace

std::string_view to_string(KeystoreError e) {
  switch (e) {
    case KeystoreError::malformed:
      return "malformed keystore";
    case KeystoreError::unsupported:
      return "unsupported keystore";
    case KeystoreError::unsafe_parameters:
      return "keystore kdf parameters refused";
    case KeystoreError::wrong_password:
      return "wrong password (or a modified keystore: MAC mismatch)";
    case KeystoreError::address_mismatch:
      return "keystore address names another account";
    case KeystoreError::invalid_key:
      return "keystore holds no valid secp256k1 key";
    case KeystoreError::io:
      return "keystore file error";
    case KeystoreError::exists:
      return "keystore file already exists";
  }
  return "unknown keystore error";
}

Result<PrivateKey, KeystoreFailure> decrypt_keystore(const json& keystore, ByteView password) {
  if (!keystore.is_object()) return refuse(KeystoreError::malformed, "keystore is not an object");
  const auto version = keystore.find("version");
  if (version == keystore.end() || !version->is_number_integer() || *version != 3) {
    return refuse(KeystoreError::unsupported, "keystore \"version\" is not the integer 3");
  }
  // geth writes "crypto", older ethers and MyEtherWallet "Crypto".
  const bool lower = keystore.contains("crypto"), upper = keystore.contains("Crypto");
  if (lower == upper) {
    return refuse(KeystoreError::malformed, "keystore needs exactly one of \"crypto\"/\"Crypto\"");
  }
  auto crypto_obj = object_field(keystore, lower ? "crypto" : "Crypto");
  if (!crypto_obj) return fail(crypto_obj.error());
  const json& crypto = **crypto_obj;

  auto cipher = string_field(crypto, "cipher");
  if (!cipher) return fail(cipher.error());
  if (*cipher != "aes-128-ctr") {
    return refuse(KeystoreError::unsupported, "cipher \"" + *cipher + "\" is not aes-128-ctr");
  }
  auto cipherparams = object_field(crypto, "cipherparams");
  if (!cipherparams) return fail(cipherparams.error());
  auto iv = hex_field(**cipherparams, "iv", kIvSize, kIvSize);
  if (!iv) return fail(iv.error());
  auto ciphertext = hex_field(crypto, "ciphertext", 1, 1024);
  if (!ciphertext) return fail(ciphertext.error());
  auto mac = hex_field(crypto, "mac", kMacSize, kMacSize);
  if (!mac) return fail(mac.error());
  std::optional<Bytes> claimed_address;
  if (keystore.contains("address")) {
    auto a = hex_field(keystore, "address", Address::kSize, Address::kSize);
    if (!a) return fail(a.error());
    claimed_address = std::move(*a);
  }

  auto dk = derive_key(crypto, password);
  if (!dk) return fail(dk.error());
  const Hash256 expected = keystore_mac(dk->view(), *ciphertext);
  if (sodium_memcmp(expected.data(), mac->data(), kMacSize) != 0) {
    return refuse(KeystoreError::wrong_password,
                  "MAC mismatch: the password is wrong, or the ciphertext or MAC was modified");
  }
  SecretBuffer secret(ciphertext->size());
  aes128_ctr(dk->view().first(16), *iv, *ciphertext, secret.data());
  auto key = PrivateKey::from_bytes(secret.view());
  if (!key) {
    return refuse(KeystoreError::invalid_key, "decrypted secret is not a secp256k1 key: " +
                                                  std::string(to_string(key.error())));
  }
  if (claimed_address && !std::equal(claimed_address->begin(), claimed_address->end(),
                                     key->address().bytes().begin())) {
    return refuse(KeystoreError::address_mismatch,
                  "keystore says address 0x" + to_hex(*claimed_address) + " but holds the key of " +
                      key->address().to_hex());
  }
  return std::move(*key);
}

json encrypt_keystore(const PrivateKey& key, ByteView password, ScryptParams params) {
  detail::ensure_sodium();
  std::array<std::uint8_t, 32> salt;
  std::array<std::uint8_t, kIvSize> iv;
  randombytes_buf(salt.data(), salt.size());
  randombytes_buf(iv.data(), iv.size());
  SecretBuffer dk(kDerivedKeySize);
  scrypt(password, salt, params, dk);
  Bytes ciphertext(PrivateKey::kSize);
  aes128_ctr(dk.view().first(16), iv, key.secret(), ciphertext.data());
  const Hash256 mac = keystore_mac(dk.view(), ciphertext);
  return json{
      {"address", to_hex(key.address().bytes())},
      {"crypto",
       {{"cipher", "aes-128-ctr"},
        {"cipherparams", {{"iv", to_hex(iv)}}},
        {"ciphertext", to_hex(ciphertext)},
        {"kdf", "scrypt"},
        {"kdfparams",
         {{"dklen", kDerivedKeySize},
          {"n", params.n},
          {"p", params.p},
          {"r", params.r},
          {"salt", to_hex(salt)}}},
        {"mac", to_hex(mac)}}},
      {"id", uuid_v4()},
      {"version", 3},
  };
}

}  // namespace mrt
