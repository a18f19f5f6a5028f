#include <mrt/matrix_identity.hpp>

namespace mrt {

std::string matrix_user_id(const Address& address, std::string_view server_name) {
  std::string id = "@" + address.to_hex() + ":";
  id += server_name;
  return id;
}

MatrixIdentity matrix_identity(const PrivateKey& key, std::string_view server_name) {
  MatrixIdentity id;
  id.user_id = matrix_user_id(key.address(), server_name);
  id.password = personal_sign(key, as_bytes(server_name));
  id.displayname = personal_sign(key, as_bytes(id.user_id));
  return id;
}

std::string_view to_string(UserIdError e) {
  switch (e) {
    case UserIdError::malformed:
      return "user id is not @localpart:server_name";
    case UserIdError::localpart_not_address:
      return "user id localpart is not a lowercase address";
    case UserIdError::bad_displayname:
      return "displayname is not a valid signature";
    case UserIdError::address_mismatch:
      return "displayname was signed by another address";
  }
  return "unknown user id error";
}

Result<Address, UserIdError> address_of_user_id(std::string_view user_id) {
  const auto colon = user_id.find(':');
  if (user_id.size() < 3 || user_id[0] != '@' || colon == std::string_view::npos ||
      colon + 1 == user_id.size()) {
    return fail(UserIdError::malformed);
  }
  auto address = Address::parse(user_id.substr(1, colon - 1));
  if (!address) return fail(UserIdError::localpart_not_address);
  return *address;
}

Result<Address, UserIdError> displayname_proves_user_id(std::string_view user_id,
                                                        std::string_view displayname) {
  auto claimed = address_of_user_id(user_id);
  if (!claimed) return claimed;
  auto signer = ecrecover(as_bytes(user_id), displayname);
  if (!signer) return fail(UserIdError::bad_displayname);
  if (*signer != *claimed) return fail(UserIdError::address_mismatch);
  return *claimed;
}

}  // namespace mrt
