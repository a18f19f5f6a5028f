// mrt key new | import | show | export
#include <iostream>

#include <mrt/keystore.hpp>
#include <mrt/matrix_identity.hpp>

#include "args.hpp"
#include "command.hpp"
#include "keystore_unlock.hpp"
#include "secret_input.hpp"

namespace mrt::cli {
namespace {

using json = nlohmann::json;

void save_keystore(const Args& args, const PrivateKey& key, bool json_out) {
  const std::string path = args.require("--keystore");
  const SecretBuffer password = read_password(args.get("--password-file"), true);
  const ScryptParams params =
      args.has("--light") ? ScryptParams::light() : ScryptParams::standard();
  auto written = write_keystore_file(path, encrypt_keystore(key, password.view(), params));
  if (!written) throw_keystore_failure(written.error());
  const std::string address = key.address().to_checksummed();
  print_result(json_out, {{"address", address}, {"keystore", path}},
               {{"address", address}, {"keystore", path}});
}

int key_new(const std::vector<std::string>& argv, bool json_out) {
  const Args args(argv, {"--keystore", "--password-file"}, {"--light", "--json"});
  save_keystore(args, PrivateKey::generate(), json_out);
  return kOk;
}

int key_import(const std::vector<std::string>& argv, bool json_out) {
  const Args args(argv, {"--keystore", "--password-file", "--private-key-file"},
                  {"--light", "--json"});
  const std::string key_file = args.require("--private-key-file");
  args.require("--keystore");
  const SecretBuffer text = read_first_line(key_file);
  auto key = PrivateKey::from_hex(
      std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
  if (!key) {
    throw CommandError(kBadInput, key_file + ": " + std::string(to_string(key.error())) +
                                      " (expected 64 hex digits, optionally 0x-prefixed)");
  }
  save_keystore(args, *key, json_out);
  return kOk;
}

int key_show(const std::vector<std::string>& argv, bool json_out) {
  const Args args(argv, {"--keystore", "--password-file", "--server-name"}, {"--json"});
  const PrivateKey key = unlock_keystore(args.require("--keystore"), args.get("--password-file"));
  const std::string address = key.address().to_checksummed();
  json out = {{"address", address}};
  std::vector<std::pair<std::string, std::string>> lines = {{"address", address}};
  if (auto server = args.get("--server-name")) {
    const MatrixIdentity id = matrix_identity(key, *server);
    out["user_id"] = id.user_id;
    out["password"] = id.password.to_hex();
    out["displayname"] = id.displayname.to_hex();
    lines.insert(lines.end(), {{"user_id", id.user_id},
                               {"password", id.password.to_hex()},
                               {"displayname", id.displayname.to_hex()}});
  }
  print_result(json_out, out, lines);
  return kOk;
}

int key_export(const std::vector<std::string>& argv, bool json_out) {
  const Args args(argv, {"--keystore", "--password-file"}, {"--json"});
  const PrivateKey key = unlock_keystore(args.require("--keystore"), args.get("--password-file"));
  std::cerr << "mrt key export: printing the private key of " << key.address().to_checksummed()
            << "; anyone who sees it controls the account\n";
  std::string hex = to_0x_hex(key.secret());
  print_result(json_out, {{"address", key.address().to_checksummed()}, {"private_key", hex}},
               {{"private_key", hex}});
  wipe(hex);
  return kOk;
}

}  // namespace

std::vector<Command> key_commands() {
  return {
      {"key new",
       "mrt key new --keystore FILE [--password-file F] [--light] [--json]\n"
       "  Creates a new random key and writes it as an encrypted keystore v3 FILE (scrypt\n"
       "  n=262144, or n=4096 with --light; mode 0600; never overwrites). Prints its address.",
       key_new},
      {"key import",
       "mrt key import --keystore FILE --private-key-file K [--password-file F] [--light] "
       "[--json]\n"
       "  Encrypts the private key in K (first line, 64 hex digits, optional 0x) into FILE.",
       key_import},
      {"key show",
       "mrt key show --keystore FILE [--password-file F] [--server-name S] [--json]\n"
       "  Decrypts FILE and prints its EIP-55 address; with S also the Matrix user id, login\n"
       "  password and displayname of PROTOCOL.md section 2.",
       key_show},
      {"key export",
       "mrt key export --keystore FILE [--password-file F] [--json]\n"
       "  Prints the raw private key (0x + 64 hex digits). Handle the output as a secret.",
       key_export},
  };
}

}  // namespace mrt::cli
