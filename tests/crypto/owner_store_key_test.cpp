#include <algorithm>

#include <gtest/gtest.h>

#include <mrt/owner_store_key.hpp>

namespace mrt {
namespace {

// Stores written before StoreKey existed derived their keys from the Ethereum secret itself;
// they must keep opening.
TEST(OwnerStoreKey, IsTheEthereumSecretSoOlderStoresOpen) {
  const PrivateKey key = PrivateKey::generate();
  const store::StoreKey store_key = store_key_for(key);
  EXPECT_TRUE(std::ranges::equal(store_key.bytes(), key.secret()));
}

}  // namespace
}  // namespace mrt
