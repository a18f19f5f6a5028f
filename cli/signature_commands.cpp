// mrt sign | recover
#include <fstream>
#include <sstream>

#include <mrt/eth.hpp>

#include "args.hpp"
#include "command.hpp"
#include "keystore_unlock.hpp"

namespace mrt::cli {
namespace {

const std::set<std::string> kMessageOptions = {"--message", "--message-hex", "--message-file"};

// Exactly one of --message TEXT (its UTF-8 bytes), --message-hex 0xHEX, --message-file F.
Bytes message_bytes(const Args& args) {
  int given = 0;
  for (const auto& name : kMessageOptions) given += args.get(name) ? 1 : 0;
  if (given != 1) throw UsageError("give exactly one of --message, --message-hex, --message-file");
  if (auto text = args.get("--message")) {
    const ByteView bytes = as_bytes(*text);
    return Bytes(bytes.begin(), bytes.end());
  }
  if (auto hex = args.get("--message-hex")) {
    auto bytes = parse_hex(*hex, HexPrefix::required);
    if (!bytes) {
      throw CommandError(kBadInput, "--message-hex: " + std::string(to_string(bytes.error())));
    }
    return *bytes;
  }
  const std::string path = *args.get("--message-file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CommandError(kBadInput, "cannot read " + path);
  std::ostringstream content;
  content << in.rdbuf();
  const std::string s = content.str();
  return Bytes(s.begin(), s.end());
}

std::set<std::string> with_message_options(std::set<std::string> options) {
  options.insert(kMessageOptions.begin(), kMessageOptions.end());
  return options;
}

int sign(const std::vector<std::string>& argv, bool json_out) {
  const Args args(argv, with_message_options({"--keystore", "--password-file"}), {"--json"});
  const Bytes message = message_bytes(args);
  const PrivateKey key = unlock_keystore(args.require("--keystore"), args.get("--password-file"));
  const std::string sig = personal_sign(key, message).to_hex();
  const std::string address = key.address().to_checksummed();
  print_result(json_out, {{"address", address}, {"signature", sig}},
               {{"signature", sig}, {"address", address}});
  return kOk;
}

int recover(const std::vector<std::string>& argv, bool json_out) {
  const Args args(argv, with_message_options({"--signature"}), {"--json"});
  const Bytes message = message_bytes(args);
  auto address = ecrecover(message, args.require("--signature"));
  if (!address) {
    const auto e = address.error();
    throw CommandError(is_malformed(e) ? kBadInput : kCheckFailed,
                       std::string(is_malformed(e) ? "malformed signature: " : "bad signature: ") +
                           std::string(to_string(e)));
  }
  print_result(json_out, {{"address", address->to_checksummed()}},
               {{"address", address->to_checksummed()}});
  return kOk;
}

}  // namespace

std::vector<Command> signature_commands() {
  return {
      {"sign",
       "mrt sign --keystore FILE [--password-file F] (--message TEXT | --message-hex 0xHEX |\n"
       "         --message-file F) [--json]\n"
       "  Prints personal_sign (EIP-191) of the message bytes: 0x + r || s || v, v in {27, 28}.",
       sign},
      {"recover",
       "mrt recover --signature 0xSIG (--message TEXT | --message-hex 0xHEX | --message-file F)\n"
       "            [--json]\n"
       "  Prints the EIP-55 address that made SIG over the message (ecrecover). Exit 1 for a\n"
       "  well-formed signature that recovers nothing valid, 3 for a malformed one.",
       recover},
  };
}

}  // namespace mrt::cli
