#include <mrt/owner_store_key.hpp>

namespace mrt {

store::StoreKey store_key_for(const PrivateKey& owner) {
  static_assert(PrivateKey::kSize == store::StoreKey::kSize);
  return store::StoreKey(SecretBuffer(owner.secret()));
}

}  // namespace mrt
