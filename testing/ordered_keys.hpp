// Fresh Ethereum keys in address order: PROTOCOL §5 gives the lower address of a pair the
// DM room's creation, so tests pick who is lower.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include <mrt/eth.hpp>

namespace mrt::testing {

inline std::vector<PrivateKey> ascending_keys(std::size_t n) {
  std::vector<PrivateKey> keys;
  for (std::size_t i = 0; i < n; ++i) keys.push_back(PrivateKey::generate());
  std::sort(keys.begin(), keys.end(),
            [](const PrivateKey& a, const PrivateKey& b) { return a.address() < b.address(); });
  return keys;
}

}  // namespace mrt::testing
