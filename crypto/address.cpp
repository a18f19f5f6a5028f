#include <stdexcept>

#include <mrt/eth.hpp>

namespace mrt {
namespace {

// EIP-55: a hex letter is uppercase iff the matching nibble of keccak256(lowercase hex) >= 8.
std::string checksum_case(std::string_view lower_hex40) {
  const Hash256 h = keccak256(as_bytes(lower_hex40));
  std::string out(lower_hex40);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int nibble = (i % 2 == 0) ? h[i / 2] >> 4 : h[i / 2] & 0x0f;
    if (out[i] >= 'a' && out[i] <= 'f' && nibble >= 8) out[i] = static_cast<char>(out[i] - 32);
  }
  return out;
}

Result<Address, AddressError> decode(std::string_view text, HexCase letter_case) {
  if (text.size() != 42) return fail(AddressError::malformed);
  auto bytes = parse_hex(text, HexPrefix::required, letter_case);
  if (!bytes) {
    return fail(bytes.error() == HexError::uppercase ? AddressError::not_lowercase
                                                     : AddressError::malformed);
  }
  std::array<std::uint8_t, Address::kSize> raw{};
  std::copy(bytes->begin(), bytes->end(), raw.begin());
  return Address(raw);
}

}  // namespace

std::string_view to_string(AddressError e) {
  switch (e) {
    case AddressError::malformed:
      return "address is not 0x followed by 40 hex digits";
    case AddressError::not_lowercase:
      return "address must be lowercase on the wire";
    case AddressError::bad_checksum:
      return "address has mixed case that fails its EIP-55 checksum";
  }
  return "unknown address error";
}

Result<Address, AddressError> Address::parse(std::string_view text) {
  return decode(text, HexCase::lower_only);
}

Result<Address, AddressError> Address::parse_checksummed(std::string_view text) {
  auto address = decode(text, HexCase::any);
  if (!address) return address;
  const std::string_view digits = text.substr(2);
  const bool has_lower = digits.find_first_of("abcdef") != std::string_view::npos;
  const bool has_upper = digits.find_first_of("ABCDEF") != std::string_view::npos;
  if (has_lower && has_upper && address->to_checksummed() != text) {
    return fail(AddressError::bad_checksum);
  }
  return address;
}

Address Address::from_public_key(ByteView uncompressed65) {
  if (uncompressed65.size() != 65 || uncompressed65[0] != 0x04) {
    throw std::invalid_argument("Address::from_public_key needs a 65-byte uncompressed key");
  }
  const Hash256 h = keccak256(uncompressed65.subspan(1));
  std::array<std::uint8_t, kSize> raw{};
  std::copy(h.end() - kSize, h.end(), raw.begin());
  return Address(raw);
}

std::string Address::to_hex() const {
  return to_0x_hex(bytes_);
}

std::string Address::to_checksummed() const {
  return "0x" + checksum_case(mrt::to_hex(bytes_));
}

}  // namespace mrt
