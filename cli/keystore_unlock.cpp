#include "keystore_unlock.hpp"

#include "command.hpp"
#include "secret_input.hpp"

namespace mrt::cli {

void throw_keystore_failure(const KeystoreFailure& failure) {
  ExitCode code = kBadInput;
  switch (failure.code) {
    case KeystoreError::wrong_password:
    case KeystoreError::address_mismatch:
    case KeystoreError::invalid_key:
      code = kKeyRefused;
      break;
    case KeystoreError::exists:
      code = kWouldOverwrite;
      break;
    default:
      break;
  }
  throw CommandError(code, failure.message);
}

PrivateKey unlock_keystore(const std::string& keystore_path,
                           const std::optional<std::string>& password_file) {
  auto keystore = read_keystore_file(keystore_path);
  if (!keystore) throw_keystore_failure(keystore.error());
  const SecretBuffer password = read_password(password_file, false);
  auto key = decrypt_keystore(*keystore, password.view());
  if (!key) throw_keystore_failure(key.error());
  return std::move(*key);
}

}  // namespace mrt::cli
