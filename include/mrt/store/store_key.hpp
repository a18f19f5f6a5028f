// File: mrt/store/store_key.hpp
//
// The secret a store is opened with: 32 bytes, the crypto_kdf master key from which the store
// derives its sealing, keyed-hash and key-check keys (docs/protocol.md, "Store at rest"). The
// store does not know where it comes from; a node's is derived from its Ethereum key by
// `mrt::store_key_for` (<mrt/owner_store_key.hpp>), so that the store needs nothing from crypto/.
#pragma once

#include <cstddef>

#include <mrt/bytes.hpp>

namespace mrt::store {

class StoreKey {
 public:
  static constexpr std::size_t kSize = 32;

  // std::invalid_argument unless `bytes` holds kSize bytes.
  explicit StoreKey(SecretBuffer bytes);

  ByteView bytes() const { return {bytes_.data(), bytes_.size()}; }

 private:
  SecretBuffer bytes_;
};

}  // namespace mrt::store
