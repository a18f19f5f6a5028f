#pragma once

#include <string>
#include <vector>

#include <mrt/keccak.hpp>
#include <mrt/store/env.hpp>

namespace crash_test {

inline constexpr const char* kOwnerKey =
    "0x1111111111111111111111111111111111111111111111111111111111111111";

inline std::vector<mrt::store::TableSpec> tables() {
  return {{"sealed", mrt::store::Sealing::sealed}, {"plain", mrt::store::Sealing::plain}};
}

// ~200 bytes that only id produces, so a torn or misplaced value is noticed.
inline std::string payload(std::uint64_t id) {
  const std::string seed = std::to_string(id);
  std::string out = seed + ":";
  while (out.size() < 200) out += mrt::to_hex(mrt::keccak256(mrt::as_bytes(out)));
  return out;
}

}  // namespace crash_test
