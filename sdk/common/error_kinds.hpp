// sdk/common/error_kinds.hpp: the names of mrt's reason enums, which the SDKs' exceptions
// carry as `kind` ("bad_checksum", "wrong_password"): to_string() of these enums is a sentence
// for people, not a name a program can compare.
#pragma once

#include <string_view>

#include <mrt/eth.hpp>
#include <mrt/keystore.hpp>

namespace mrt::sdk {

inline std::string_view kind_of(AddressError e) {
  switch (e) {
    case AddressError::malformed:
      return "malformed";
    case AddressError::not_lowercase:
      return "not_lowercase";
    case AddressError::bad_checksum:
      return "bad_checksum";
  }
  return "unknown";
}

inline std::string_view kind_of(KeyError e) {
  switch (e) {
    case KeyError::wrong_length:
      return "wrong_length";
    case KeyError::out_of_range:
      return "out_of_range";
    case KeyError::bad_hex:
      return "bad_hex";
  }
  return "unknown";
}

inline std::string_view kind_of(SignatureError e) {
  switch (e) {
    case SignatureError::malformed:
      return "malformed";
    case SignatureError::bad_v:
      return "bad_v";
    case SignatureError::high_s:
      return "high_s";
    case SignatureError::r_or_s_out_of_range:
      return "r_or_s_out_of_range";
    case SignatureError::no_key:
      return "no_key";
  }
  return "unknown";
}

inline std::string_view kind_of(KeystoreError e) {
  switch (e) {
    case KeystoreError::malformed:
      return "malformed";
    case KeystoreError::unsupported:
      return "unsupported";
    case KeystoreError::unsafe_parameters:
      return "unsafe_parameters";
    case KeystoreError::wrong_password:
      return "wrong_password";
    case KeystoreError::address_mismatch:
      return "address_mismatch";
    case KeystoreError::invalid_key:
      return "invalid_key";
    case KeystoreError::io:
      return "io";
    case KeystoreError::exists:
      return "exists";
  }
  return "unknown";
}

}  // namespace mrt::sdk
