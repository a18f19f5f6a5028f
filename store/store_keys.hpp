#pragma once

#include <optional>
#include <string_view>

#include <mrt/bytes.hpp>
#include <mrt/store/store_key.hpp>

namespace mrt::store::detail {

// Keys derived from the store key (a node's comes from its Ethereum key) with libsodium's
// crypto_kdf (BLAKE2b), context "mrtstore" (docs/protocol.md, "Store at rest"):
//   id 1: the sealing key (XChaCha20-Poly1305)
//   id 2: the key of keyed_hash (BLAKE2b-256) for secret-revealing record keys
//   id 3: the key check value written in meta = BLAKE2b-256(key 3, "mrt store key check v1")
struct StoreKeys {
  SecretBuffer seal;
  SecretBuffer key_hash;
  Bytes check;
  static StoreKeys derive(const StoreKey& root);
};

// XChaCha20-Poly1305-IETF with a random nonce. A sealed value is
//   0x01 || nonce (24 bytes) || ciphertext || tag (16 bytes)
// with associated data  u8(len(table)) || table || record key, so a value opens only in the
// record it was written to. That needs table names of at most 255 bytes: with a longer one the
// length byte wraps, and table "t" + 256 bytes with key k has the associated data of table "t"
// with key (those 256 bytes + k), so a value moved between the two would open.
class Sealer {
 public:
  static constexpr std::uint8_t kFormat = 0x01;
  static constexpr std::size_t kOverhead = 1 + 24 + 16;
  static constexpr std::size_t kMaxTableName = 255;

  explicit Sealer(SecretBuffer key) : key_(std::move(key)) {}
  // std::invalid_argument for a table name above kMaxTableName (Env::open refuses those).
  Bytes seal(std::string_view table, ByteView record_key, ByteView plaintext) const;
  // nullopt when the value was modified, moved, or sealed under another key, and for a table
  // name above kMaxTableName.
  std::optional<SecretBuffer> open(std::string_view table, ByteView record_key,
                                   ByteView sealed) const;

 private:
  SecretBuffer key_;
};

}  // namespace mrt::store::detail
