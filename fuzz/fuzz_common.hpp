// Helpers shared by the libFuzzer targets in this folder (not part of the library).
//
// FUZZ_CHECK(cond) is the harness's assertion: it prints the failed property and aborts, which
// libFuzzer reports as a crash and saves as an artifact. It stays on in every build type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include <mrt/bytes.hpp>

#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

namespace mrt::fuzz {

// Known library bugs, already reported, that a long run may step over so that it can look for
// other ones: MRT_FUZZ_TOLERATE=name[,name…]. Smoke runs and regression replays never set it, so
// the bug keeps failing them until it is fixed; remove the name from the harness then.
inline bool tolerated(std::string_view name) {
  static const std::string_view list = [] {
    const char* env = std::getenv("MRT_FUZZ_TOLERATE");
    return std::string_view(env ? env : "");
  }();
  std::string_view rest = list;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    if (rest.substr(0, comma) == name) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// An independent UTF-8 check (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF),
// written separately from core/utf8.cpp so that the two can disagree.
inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::uint32_t cp;
    std::size_t len;
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    if ((b0 & 0xe0) == 0xc0) {
      len = 2;
      cp = b0 & 0x1fu;
    } else if ((b0 & 0xf0) == 0xe0) {
      len = 3;
      cp = b0 & 0x0fu;
    } else if ((b0 & 0xf8) == 0xf0) {
      len = 4;
      cp = b0 & 0x07u;
    } else
      return false;
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3fu);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

// The fuzzers keep every key derivation cheap: a keystore whose kdfparams ask for more than this
// (scrypt n*r*p, pbkdf2 c) is skipped before decrypt_keystore is called. The library's own
// limits (kMaxScryptCost, kMaxPbkdf2Iterations) are tested in tests/crypto/keystore_test.cpp.
inline constexpr std::uint64_t kMaxFuzzKdfCost = 1024;

// A kdf parameter as the library would read it; anything the library refuses before deriving
// (missing, not an integer, negative) counts as 1, so the estimate errs on the side of skipping.
inline std::uint64_t kdf_param(const nlohmann::json& params, const char* name) {
  const auto it = params.find(name);
  if (it == params.end() || !it->is_number_integer()) return 1;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  const auto v = it->get<std::int64_t>();
  return v <= 0 ? 1 : static_cast<std::uint64_t>(v);
}

inline std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t out;
  return __builtin_mul_overflow(a, b, &out) ? UINT64_MAX : out;
}

// True when decrypting `keystore` could cost more than kMaxFuzzKdfCost (either spelling of
// "crypto", either kdf: both parameter sets are judged whatever "kdf" says).
inline bool keystore_is_expensive(const nlohmann::json& keystore) {
  if (!keystore.is_object()) return false;
  for (const char* spelling : {"crypto", "Crypto"}) {
    const auto crypto = keystore.find(spelling);
    if (crypto == keystore.end() || !crypto->is_object()) continue;
    const auto params = crypto->find("kdfparams");
    if (params == crypto->end() || !params->is_object()) continue;
    const std::uint64_t scrypt_cost = saturating_mul(
        saturating_mul(kdf_param(*params, "n"), kdf_param(*params, "r")), kdf_param(*params, "p"));
    if (scrypt_cost > kMaxFuzzKdfCost || kdf_param(*params, "c") > kMaxFuzzKdfCost) return true;
  }
  return false;
}

}  // namespace mrt::fuzz
