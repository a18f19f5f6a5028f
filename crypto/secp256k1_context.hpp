#pragma once

#include <secp256k1.h>

namespace mrt::detail {

// The process's one libsecp256k1 context, randomized with 32 bytes from libsodium when first
// used (blinding against side channels in signing). Only const use afterwards, which
// libsecp256k1 documents as thread-safe.
const secp256k1_context* secp256k1_ctx();

}  // namespace mrt::detail
