#include "secp256k1_context.hpp"

#include <array>
#include <stdexcept>

#include <sodium.h>

#include "core/sodium_init.hpp"

namespace mrt::detail {
namespace {

secp256k1_context* make_context() {
  ensure_sodium();
  secp256k1_selftest();
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  if (!ctx) throw std::runtime_error("secp256k1_context_create failed");
  std::array<unsigned char, 32> seed;
  randombytes_buf(seed.data(), seed.size());
  const int ok = secp256k1_context_randomize(ctx, seed.data());
  sodium_memzero(seed.data(), seed.size());
  if (!ok) throw std::runtime_error("secp256k1_context_randomize failed");
  return ctx;
}

}  // namespace

const secp256k1_context* secp256k1_ctx() {
  static secp256k1_context* const ctx = make_context();  // lives for the process
  return ctx;
}

}  // namespace mrt::detail
