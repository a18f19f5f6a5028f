#include <stdexcept>

#include <mrt/store/store_key.hpp>

namespace mrt::store {

StoreKey::StoreKey(SecretBuffer bytes) : bytes_(std::move(bytes)) {
  if (bytes_.size() != kSize) throw std::invalid_argument("store: a store key is 32 bytes");
}

}  // namespace mrt::store
