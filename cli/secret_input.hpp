#pragma once

#include <optional>
#include <string>

#include <mrt/bytes.hpp>

namespace mrt::cli {

// The first line of a file without its line ending ("\n" or "\r\n"), as geth reads
// --password files. Throws CommandError(kBadInput) if the file can not be read.
SecretBuffer read_first_line(const std::string& path);

// The password from --password-file, or else typed at a no-echo prompt on the terminal
// (twice when `confirm`). Throws CommandError if neither is possible: never reads argv.
SecretBuffer read_password(const std::optional<std::string>& password_file, bool confirm);

}  // namespace mrt::cli
