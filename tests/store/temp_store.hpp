#pragma once

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include <mrt/store/env.hpp>

#include "testing/temp_dir.hpp"

namespace mrt::store::testing {

using mrt::testing::fresh_dir;

// A store key of 32 bytes `fill`: the store needs no Ethereum key to be tested.
inline StoreKey key_of(std::uint8_t fill) {
  return StoreKey(SecretBuffer(Bytes(StoreKey::kSize, fill)));
}

inline const StoreKey& owner_key() {
  static const StoreKey key = key_of(0x4c);
  return key;
}

inline Env open_or_die(const Options& options, const StoreKey& key = owner_key()) {
  auto env = Env::open(options, key);
  if (!env) throw std::runtime_error("open failed: " + env.error().message);
  return std::move(*env);
}

}  // namespace mrt::store::testing
