#pragma once

#include <cstdint>

#include <mrt/bytes.hpp>

namespace mrt::detail {

// An empty span may hold a null pointer; libsodium declares its arguments nonnull and nettle
// and libolm pass them to memcpy, so empty inputs point here instead.
inline const std::uint8_t* non_null(ByteView bytes) {
  static const std::uint8_t kEmpty = 0;
  return bytes.empty() ? &kEmpty : bytes.data();
}

}  // namespace mrt::detail
