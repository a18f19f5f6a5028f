#include "sodium_init.hpp"

#include <stdexcept>

#include <sodium.h>

namespace mrt::detail {

void ensure_sodium() {
  static const int status = sodium_init();  // 0 first time, 1 if already done, -1 on failure
  if (status < 0) throw std::runtime_error("libsodium failed to initialise (sodium_init)");
}

}  // namespace mrt::detail
