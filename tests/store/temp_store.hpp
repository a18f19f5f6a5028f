#pragma once

#include <filesystem>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mrt/store/env.hpp>

namespace mrt::store::testing {

// A fresh directory under /tmp per test, removed afterwards.
inline std::filesystem::path fresh_dir(const std::string& tag) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "-" + info->name();
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  auto dir = std::filesystem::temp_directory_path() /
             ("mrt-" + tag + "-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  return dir;
}

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
