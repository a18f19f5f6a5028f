// Fuzz target: addresses and Matrix user ids (PROTOCOL.md §1 wire form, §2 identity).
//
// Input: text A, optionally followed by '\n' and text B. A is tried as an address (wire form and
// checksummed) and as a user id; (A, B) as (user id, displayname). Properties:
// - Address::parse accepts exactly `0x` + 40 lowercase hex and prints it back byte for byte;
// - parse_checksummed accepts what parse accepts, and anything it accepts re-prints (lowercase
//   and EIP-55) to text that re-parses to the same address; a mixed-case text it accepts is
//   exactly the EIP-55 form;
// - address_of_user_id accepts `@<wire address>:<non-empty server>` and matrix_user_id rebuilds
//   the same text;
// - displayname_proves_user_id succeeds only for the user id's own address, recovered by
//   ecrecover from B over the user id's bytes; otherwise its error matches the step that failed.
#include <cstdint>
#include <string>

#include <mrt/eth.hpp>
#include <mrt/matrix_identity.hpp>

#include "fuzz_common.hpp"

namespace {

using mrt::Address;
using mrt::AddressError;
using mrt::UserIdError;

void check_address(std::string_view text) {
  auto wire = Address::parse(text);
  auto human = Address::parse_checksummed(text);
  if (wire) {
    FUZZ_CHECK(wire->to_hex() == text);
    FUZZ_CHECK(human.ok() && *human == *wire);
  } else if (wire.error() == AddressError::not_lowercase) {
    FUZZ_CHECK(text.find_first_of("ABCDEF") != std::string_view::npos);
  }
  if (!human) {
    if (human.error() == AddressError::bad_checksum) {
      FUZZ_CHECK(!wire && wire.error() == AddressError::not_lowercase);
    }
    return;
  }
  const std::string lower = human->to_hex();
  const std::string checksummed = human->to_checksummed();
  FUZZ_CHECK(Address::parse(lower).ok() && *Address::parse(lower) == *human);
  auto back = Address::parse_checksummed(checksummed);
  FUZZ_CHECK(back.ok() && *back == *human);
  // The accepted text is the address in some case: lowercase equals the wire form.
  std::string folded(text);
  for (char& c : folded) c = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  FUZZ_CHECK(folded == lower);
  const std::string_view digits = text.substr(2);
  const bool mixed = digits.find_first_of("abcdef") != std::string_view::npos &&
                     digits.find_first_of("ABCDEF") != std::string_view::npos;
  if (mixed) FUZZ_CHECK(checksummed == text);
}

void check_user_id(std::string_view user_id, std::string_view displayname) {
  auto claimed = mrt::address_of_user_id(user_id);
  if (claimed) {
    const auto colon = user_id.find(':');
    FUZZ_CHECK(colon != std::string_view::npos && colon + 1 < user_id.size());
    FUZZ_CHECK(mrt::matrix_user_id(*claimed, user_id.substr(colon + 1)) == user_id);
  }
  auto proof = mrt::displayname_proves_user_id(user_id, displayname);
  if (!claimed) {
    FUZZ_CHECK(!proof && proof.error() == claimed.error());
    return;
  }
  auto signer = mrt::ecrecover(mrt::as_bytes(user_id), displayname);
  if (!signer) {
    FUZZ_CHECK(!proof && proof.error() == UserIdError::bad_displayname);
  } else if (*signer != *claimed) {
    FUZZ_CHECK(!proof && proof.error() == UserIdError::address_mismatch);
  } else {
    FUZZ_CHECK(proof.ok() && *proof == *claimed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = mrt::fuzz::as_text(data, size);
  const auto newline = input.find('\n');
  const std::string_view a = input.substr(0, newline);
  const std::string_view b =
      newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);
  check_address(a);
  check_user_id(a, b);
  check_user_id(input, {});
  return 0;
}
