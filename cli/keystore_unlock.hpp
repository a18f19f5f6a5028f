#pragma once

#include <optional>
#include <string>

#include <mrt/eth.hpp>
#include <mrt/keystore.hpp>

namespace mrt::cli {

// Throws the CommandError (and exit code) that a keystore failure means for the CLI.
[[noreturn]] void throw_keystore_failure(const KeystoreFailure& failure);

// Reads and decrypts a keystore file with the password from `password_file` or the prompt.
PrivateKey unlock_keystore(const std::string& keystore_path,
                           const std::optional<std::string>& password_file);

}  // namespace mrt::cli
