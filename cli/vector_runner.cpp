#include "vector_runner.hpp"

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <mrt/attestation.hpp>
#include <mrt/canonical_json.hpp>
#include <mrt/envelope.hpp>
#include <mrt/eth.hpp>
#include <mrt/keystore.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/matrix_signing.hpp>
#include <mrt/megolm.hpp>

namespace mrt::cli {
namespace {

using json = nlohmann::json;

// A case whose own fields are missing or of the wrong type: the case fails with this message.
struct BadCase : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const json& field(const json& c, const char* name) {
  const auto it = c.find(name);
  if (it == c.end()) throw BadCase(std::string("case has no \"") + name + "\"");
  return *it;
}

const std::string& string_field(const json& c, const char* name) {
  const json& v = field(c, name);
  if (!v.is_string()) throw BadCase(std::string("\"") + name + "\" is not a string");
  return v.get_ref<const std::string&>();
}

std::optional<std::string> nullable_string(const json& c, const char* name) {
  const json& v = field(c, name);
  if (v.is_null()) return std::nullopt;
  if (!v.is_string()) throw BadCase(std::string("\"") + name + "\" is not a string or null");
  return v.get<std::string>();
}

Bytes hex_field(const json& c, const char* name) {
  auto bytes = parse_hex(string_field(c, name), HexPrefix::required);
  if (!bytes) {
    throw BadCase(std::string("\"") + name + "\": " + std::string(to_string(bytes.error())));
  }
  return std::move(*bytes);
}

PrivateKey key_field(const json& c, const char* name) {
  auto key = PrivateKey::from_bytes(hex_field(c, name));
  if (!key) throw BadCase(std::string("\"") + name + "\": " + std::string(to_string(key.error())));
  return std::move(*key);
}

std::string expected_got(const std::string& what, const std::string& expected,
                         const std::string& got) {
  return what + ": expected " + expected + ", got " + got;
}

using Check = std::function<std::optional<std::string>(const json&)>;

std::optional<std::string> check_keccak256(const json& c) {
  const std::string got = to_0x_hex(keccak256(hex_field(c, "input")));
  const std::string& want = string_field(c, "hash");
  if (got != want) return expected_got("hash", want, got);
  return std::nullopt;
}

std::optional<std::string> check_eth_address(const json& c) {
  const std::string got = key_field(c, "private_key").address().to_checksummed();
  const std::string& want = string_field(c, "address");
  if (got != want) return expected_got("address", want, got);
  return std::nullopt;
}

std::optional<std::string> check_personal_sign(const json& c) {
  const PrivateKey key = key_field(c, "private_key");
  const Bytes message = hex_field(c, "message");
  const std::string got = personal_sign(key, message).to_hex();
  const std::string& want = string_field(c, "signature");
  if (got != want) return expected_got("signature", want, got);
  auto back = ecrecover(message, got);
  if (!back || *back != key.address()) return "own signature does not recover the signer";
  return std::nullopt;
}

std::optional<std::string> check_ecrecover(const json& c) {
  const auto want = nullable_string(c, "address");
  auto got = ecrecover(hex_field(c, "message"), string_field(c, "signature"));
  const std::string got_text =
      got ? got->to_hex() : "null (" + std::string(to_string(got.error())) + ")";
  if (!want) {
    if (got) return expected_got("address", "null", got_text);
    return std::nullopt;
  }
  if (!got || got->to_hex() != *want) return expected_got("address", *want, got_text);
  return std::nullopt;
}

std::optional<std::string> check_canonical_json(const json& c) {
  if (c.contains("error")) {
    if (field(c, "error") != true) throw BadCase("\"error\" must be true when present");
    std::string text;
    if (c.contains("input_text")) {
      text = string_field(c, "input_text");
    } else {
      const Bytes raw = hex_field(c, "input_hex");
      text.assign(raw.begin(), raw.end());
    }
    auto parsed = parse_json_strict(text);
    if (parsed) return "input was accepted but must be refused";
    return std::nullopt;
  }
  const std::string& want = string_field(c, "canonical");
  auto got = canonical_json(field(c, "input"));
  if (!got) return "refused: " + got.error().message;
  if (*got != want) return expected_got("canonical", want, *got);
  // The canonical form must itself parse and print to the same bytes.
  auto again = parse_json_strict(*got);
  if (!again) return "canonical output does not re-parse: " + again.error().message;
  auto twice = canonical_json(*again);
  if (!twice || *twice != want) return "canonical output is not a fixed point";
  return std::nullopt;
}

std::optional<std::string> check_matrix_identity(const json& c) {
  const PrivateKey key = key_field(c, "private_key");
  const MatrixIdentity id = matrix_identity(key, string_field(c, "server_name"));
  const std::pair<const char*, std::string> fields[] = {
      {"user_id", id.user_id},
      {"password", id.password.to_hex()},
      {"displayname", id.displayname.to_hex()},
  };
  for (const auto& [name, got] : fields) {
    const std::string& want = string_field(c, name);
    if (got != want) return expected_got(name, want, got);
  }
  if (!displayname_proves_user_id(id.user_id, id.displayname.to_hex())) {
    return "displayname does not prove the user id";
  }
  return std::nullopt;
}

std::optional<std::string> check_keystore_v3(const json& c) {
  const std::string& password = string_field(c, "password");
  const auto want = nullable_string(c, "private_key");
  auto got = decrypt_keystore(field(c, "keystore"), as_bytes(password));
  if (!want) {
    if (got) return "keystore opened but must be refused";
    return std::nullopt;
  }
  if (!got) return "keystore refused: " + got.error().message;
  if (to_0x_hex(got->secret()) != *want) return "decrypted another private key";
  return std::nullopt;
}

VectorReport file_failure(const std::string& file, std::string message) {
  VectorReport report;
  report.file = file;
  report.file_error = std::move(message);
  report.failed = 1;
  return report;
}

// PROTOCOL.md §7 gives attestation cases no clock: "now" is this machine's.
std::optional<std::string> check_attestation(const json& c) {
  const json& valid = field(c, "valid");
  if (!valid.is_boolean()) throw BadCase("\"valid\" is not a boolean");
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto got = verify_device_attestation(field(c, "device_keys"), now);
  if (valid.get<bool>() && !got) {
    return "refused (" + std::string(to_string(got.error())) + ") but must be attested";
  }
  if (!valid.get<bool>() && got) return "attested for " + got->to_hex() + " but must be refused";
  return std::nullopt;
}

std::optional<std::string> check_envelope(const json& c) {
  Arrival arrival;
  if (const auto receiver = nullable_string(c, "receiver")) {
    auto a = Address::parse(*receiver);
    if (!a) throw BadCase("\"receiver\" is not a lowercase address");
    arrival.receiver = *a;
  }
  arrival.room_topic = nullable_string(c, "topic");
  const json& now = field(c, "now");
  if (!now.is_number_integer()) throw BadCase("\"now\" is not an integer");
  const std::string& want = string_field(c, "result");
  auto got = validate_envelope(field(c, "envelope"), arrival, now.get<std::int64_t>());
  const std::string got_text = got ? "accepted" : std::string(to_string(got.error()));
  if (got_text != want) return expected_got("result", want, got_text);
  return std::nullopt;
}

// The key's first decoded byte says its format: 0x02 session sharing (m.room_key), 0x01 export.
Result<MegolmInboundSession, MegolmError> megolm_session(const std::string& key) {
  const auto raw = parse_base64_unpadded(key);
  if (raw && !raw->empty() && (*raw)[0] == 0x01)
    return MegolmInboundSession::from_exported_key(key);
  return MegolmInboundSession::from_session_key(key);
}

std::optional<std::string> check_megolm_decrypt(const json& c) {
  const auto want = nullable_string(c, "plaintext");
  auto session = megolm_session(string_field(c, "session_key"));
  if (!session) {
    if (!want) return std::nullopt;
    return "session key refused: " + std::string(to_string(session.error()));
  }
  auto got = session->decrypt(string_field(c, "ciphertext"));
  if (!want) {
    if (got) return "decrypted but must fail";
    return std::nullopt;
  }
  if (!got) return "refused (" + std::string(to_string(got.error())) + ") but must decrypt";
  const json& index = field(c, "message_index");
  if (!index.is_number_integer() || index.get<std::int64_t>() < 0) {
    throw BadCase("\"message_index\" is not a non-negative integer");
  }
  const std::string_view plain = as_chars(got->plaintext.view());
  if (plain != *want) return expected_got("plaintext", *want, std::string(plain));
  if (got->message_index != index.get<std::uint64_t>()) {
    return expected_got("message_index", index.dump(), std::to_string(got->message_index));
  }
  return std::nullopt;
}

const std::map<std::string, Check>& checks() {
  static const std::map<std::string, Check> kChecks = {
      {"attestation", check_attestation},       {"canonical_json", check_canonical_json},
      {"ecrecover", check_ecrecover},           {"envelope", check_envelope},
      {"eth_address", check_eth_address},       {"keccak256", check_keccak256},
      {"keystore_v3", check_keystore_v3},       {"matrix_identity", check_matrix_identity},
      {"megolm_decrypt", check_megolm_decrypt}, {"personal_sign", check_personal_sign},
  };

  return kChecks;
}

}  // namespace

std::vector<std::string> supported_vector_kinds() {
  std::vector<std::string> kinds;
  for (const auto& [kind, check] : checks()) kinds.push_back(kind);
  return kinds;
}

VectorReport run_vector_document(const json& document, const std::string& file) {
  if (!document.is_object() || !document.contains("kind") || !document["kind"].is_string() ||
      !document.contains("cases") || !document["cases"].is_array()) {
    return file_failure(file, "not a vector file: needs {\"kind\": string, \"cases\": array}");
  }
  VectorReport report;
  report.file = file;
  report.kind = document["kind"].get<std::string>();
  const auto check = checks().find(report.kind);
  if (check == checks().end())
    return file_failure(file, "unknown vector kind \"" + report.kind + "\"");

  const json& cases = document["cases"];
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const json& c = cases[i];
    std::optional<std::string> failure;
    try {
      if (!c.is_object()) throw BadCase("case is not an object");
      failure = check->second(c);
    } catch (const BadCase& e) {
      failure = std::string("malformed case: ") + e.what();
    }
    if (!failure) {
      ++report.passed;
      continue;
    }
    ++report.failed;
    std::string label = "case " + std::to_string(i);
    if (c.is_object() && c.contains("comment") && c["comment"].is_string()) {
      label += " (" + c["comment"].get<std::string>() + ")";
    }
    report.failures.push_back(label + ": " + *failure);
  }
  return report;
}

VectorReport run_vector_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) return file_failure(path.string(), "cannot read the file");
  // Strict parsing: duplicate keys in an `input` would otherwise vanish before the case runs.
  auto document = parse_json_strict(text.str());
  if (!document) return file_failure(path.string(), "not valid JSON: " + document.error().message);
  return run_vector_document(*document, path.string());
}

}  // namespace mrt::cli
