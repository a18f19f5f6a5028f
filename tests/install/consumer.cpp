// A program outside the tree that uses the installed mrt, as a Raiden node would.
#include <iostream>

#include <mrt/eth.hpp>
#include <mrt/matrix_identity.hpp>

int main() {
  const auto key = mrt::PrivateKey::from_hex(
      "0x0000000000000000000000000000000000000000000000000000000000000001");
  if (!key) return 1;
  std::cout << mrt::matrix_identity(*key, "localhost").user_id << "\n";
  return 0;
}
