#include <optional>

#include "bindings.hpp"
#include "common/error_kinds.hpp"

namespace mrt::python {
namespace {

// Python owns the types once created; the module keeps them alive for the process.
std::optional<Errors>& storage() {
  static std::optional<Errors> e;
  return e;
}

py::object new_error(py::module_& m, const char* name, const py::object& base, const char* doc) {
  const std::string qualified = std::string("mrt.") + name;
  py::object type = py::reinterpret_steal<py::object>(
      PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base.ptr(), nullptr));
  if (!type) throw py::error_already_set();
  m.attr(name) = type;
  return type;
}

}  // namespace

const Errors& errors() {
  return *storage();
}

void bind_errors(py::module_& m) {
  Errors e;
  const py::object exception = py::reinterpret_borrow<py::object>(PyExc_Exception);
  e.error = new_error(m, "Error", exception,
                      "Base of mrt's errors. `kind` names the reason (an mrt enum's name), "
                      "str(error) says what was wrong.");
  e.node = new_error(m, "NodeError", e.error,
                     "A node call was refused; kind: bad_config, store, login, not_started, "
                     "too_large, stopped, bad_topic, network, outbox_full, squatted, "
                     "bad_user_id, closed.");
  e.keystore = new_error(m, "KeystoreError", e.error,
                         "A keystore could not be read, decrypted or written; kind: malformed, "
                         "unsupported, unsafe_parameters, wrong_password, address_mismatch, "
                         "invalid_key, io, exists.");
  e.key = new_error(m, "InvalidKeyError", e.error,
                    "Not a secp256k1 secret key; kind: wrong_length, out_of_range, bad_hex.");
  e.address = new_error(m, "AddressError", e.error,
                        "Not an Ethereum address; kind: malformed, not_lowercase, bad_checksum.");
  e.signature = new_error(m, "SignatureError", e.error,
                          "Not a valid signature; kind: malformed, bad_v, high_s, "
                          "r_or_s_out_of_range, no_key.");
  e.envelope = new_error(m, "EnvelopeError", e.error,
                         "An envelope PROTOCOL §4 refuses; kind: the rule's RejectReason "
                         "(malformed, too_large, bad_signature, wrong_recipient, expired, ...).");
  storage() = std::move(e);
}

void raise(const py::object& type, std::string_view kind, const std::string& message) {
  py::object error = type(message);
  error.attr("kind") = py::str(kind.data(), kind.size());
  PyErr_SetObject(type.ptr(), error.ptr());
  throw py::error_already_set();
}

Address to_address(const std::string& text) {
  auto a = Address::parse_checksummed(text);
  if (!a)
    raise(errors().address, sdk::kind_of(a.error()),
          std::string(to_string(a.error())) + ": " + text);
  return *a;
}

}  // namespace mrt::python
