#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <mrt/bytes.hpp>
#include <mrt/store/env.hpp>

namespace crash_test {

inline mrt::store::StoreKey owner_key() {
  return mrt::store::StoreKey(mrt::SecretBuffer(mrt::Bytes(mrt::store::StoreKey::kSize, 0x11)));
}

inline std::vector<mrt::store::TableSpec> tables() {
  return {{"sealed", mrt::store::Sealing::sealed}, {"plain", mrt::store::Sealing::plain}};
}

// ~200 bytes that only id produces, so a torn or misplaced value is noticed.
inline std::string payload(std::uint64_t id) {
  std::string out = std::to_string(id) + ":";
  std::uint64_t x = id;
  while (out.size() < 200) {
    x = x * 6364136223846793005u + 1442695040888963407u;  // an LCG step: any fixed mixing does
    out += mrt::to_hex(mrt::as_bytes(std::string_view(reinterpret_cast<const char*>(&x), 8)));
  }
  return out;
}

}  // namespace crash_test
