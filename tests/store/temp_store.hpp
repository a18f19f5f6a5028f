#pragma once

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include <mrt/store/env.hpp>

#include "../temp_dir.hpp"

namespace mrt::store::testing {

using mrt::testing::fresh_dir;

inline const PrivateKey& owner_key() {
  static const PrivateKey key =
      PrivateKey::from_hex("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
          .value();
  return key;
}

inline Env open_or_die(const Options& options, const PrivateKey& key = owner_key()) {
  auto env = Env::open(options, key);
  if (!env) throw std::runtime_error("open failed: " + env.error().message);
  return std::move(*env);
}

}  // namespace mrt::store::testing
