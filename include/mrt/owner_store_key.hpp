// File: mrt/owner_store_key.hpp
//
// The key a node's store is opened with, from its Ethereum key. The store's crypto_kdf master
// key is the 32-byte secp256k1 secret itself (docs/protocol.md, "Store at rest"): stores written
// since the first release open with it, and the key never leaves the process in any other form.
//
//   auto env = mrt::store::Env::open(options, mrt::store_key_for(key));
#pragma once

#include <mrt/eth.hpp>
#include <mrt/store/store_key.hpp>

namespace mrt {

store::StoreKey store_key_for(const PrivateKey& owner);

}  // namespace mrt
