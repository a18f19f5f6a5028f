// File: mrt/matrix_identity.hpp
//
// A node's identity on a Matrix homeserver (PROTOCOL.md §2), compatible with Raiden's Synapse
// Ethereum auth provider: user id `@0x<lowercase address>:<server_name>`, login password
// personal_sign(server_name), displayname personal_sign(user_id).
//
//   auto id = mrt::matrix_identity(key, "matrix.example.org");
//   login(id.user_id, id.password.to_hex());
//   bool mine = mrt::displayname_proves_user_id(id.user_id, id.displayname.to_hex()).ok();
#pragma once

#include <string>
#include <string_view>

#include <mrt/eth.hpp>
#include <mrt/result.hpp>

namespace mrt {

struct MatrixIdentity {
  std::string user_id;
  Signature password;
  Signature displayname;
};

std::string matrix_user_id(const Address& address, std::string_view server_name);
MatrixIdentity matrix_identity(const PrivateKey& key, std::string_view server_name);

enum class UserIdError : int {
  malformed = 1,              // not `@<localpart>:<server_name>`
  localpart_not_address = 2,  // localpart is not 0x + 40 lowercase hex
  bad_displayname = 3,        // the displayname is not a signature that recovers
  address_mismatch = 4,       // it recovers another address than the localpart's
};
std::string_view to_string(UserIdError e);

// The address a user id claims, from its localpart.
[[nodiscard]] Result<Address, UserIdError> address_of_user_id(std::string_view user_id);
// Checks that `displayname` was made by the key of the address in `user_id`, over that user id.
[[nodiscard]] Result<Address, UserIdError> displayname_proves_user_id(std::string_view user_id,
                                                                      std::string_view displayname);

}  // namespace mrt
