#include <algorithm>

#include <mrt/owner_store_key.hpp>

namespace mrt {

store::StoreKey store_key_for(const PrivateKey& owner) {
  static_assert(PrivateKey::kSize == store::StoreKey::kSize);
  SecretBuffer bytes(store::StoreKey::kSize);
  std::copy(owner.secret().begin(), owner.secret().end(), bytes.data());
  return store::StoreKey(std::move(bytes));
}

}  // namespace mrt
