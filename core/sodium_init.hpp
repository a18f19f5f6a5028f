#pragma once

namespace mrt::detail {

// Initialises libsodium once (thread-safe); throws std::runtime_error if it cannot (no entropy
// source). Call before any libsodium function that needs randomness.
void ensure_sodium();

}  // namespace mrt::detail
