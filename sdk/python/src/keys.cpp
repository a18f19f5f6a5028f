// Keys, keystores and personal_sign / ecrecover (PROTOCOL §1).
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <sodium.h>

#include <mrt/keystore.hpp>

#include "bindings.hpp"
#include "common/error_kinds.hpp"

namespace mrt::python {
namespace {

// Python's str and bytes are immutable and cannot be wiped: the copy made here is.
class Password {
 public:
  explicit Password(const py::object& password) {
    std::string_view view;
    if (py::isinstance<py::bytes>(password)) {
      view = password.cast<std::string_view>();
    } else if (py::isinstance<py::str>(password)) {
      text_ = password.cast<std::string>();
      view = text_;
    } else {
      throw py::type_error("password must be str or bytes");
    }
    bytes_.assign(view.begin(), view.end());
  }
  ~Password() {
    if (!bytes_.empty()) sodium_memzero(bytes_.data(), bytes_.size());
    if (!text_.empty()) sodium_memzero(text_.data(), text_.size());
  }
  Password(const Password&) = delete;
  Password& operator=(const Password&) = delete;
  ByteView view() const { return {bytes_.data(), bytes_.size()}; }

 private:
  std::string text_;
  std::vector<std::uint8_t> bytes_;
};

ByteView as_bytes(const py::bytes& data) {
  const std::string_view v = data;
  return {reinterpret_cast<const std::uint8_t*>(v.data()), v.size()};
}

[[noreturn]] void raise_keystore(const KeystoreFailure& f) {
  raise(errors().keystore, sdk::kind_of(f.code), f.message);
}

}  // namespace

void bind_keys(py::module_& m) {
  py::class_<PrivateKey>(m, "PrivateKey",
                         "A secp256k1 secret key: the node's Ethereum identity. Wiped when "
                         "collected, never printed.")
      .def_static("generate", &PrivateKey::generate, "A new random key (libsodium's randomness).")
      .def_static(
          "from_hex",
          [](const std::string& text) {
            auto k = PrivateKey::from_hex(text);
            if (!k) raise(errors().key, sdk::kind_of(k.error()), std::string(to_string(k.error())));
            return std::move(*k);
          },
          py::arg("hex"),
          "From 64 hex digits (optional 0x). Raises InvalidKeyError (bad_hex, wrong_length, "
          "out_of_range).")
      .def_static(
          "from_keystore",
          [](const std::filesystem::path& path, const py::object& password) {
            const Password p(password);
            auto doc = read_keystore_file(path);
            if (!doc) raise_keystore(doc.error());
            auto key = [&] {
              py::gil_scoped_release unlocked;  // scrypt: seconds with the standard parameters
              return decrypt_keystore(*doc, p.view());
            }();
            if (!key) raise_keystore(key.error());
            return std::move(*key);
          },
          py::arg("path"), py::arg("password"),
          "Reads an encrypted keystore (v3: scrypt or pbkdf2, AES-128-CTR). Raises "
          "KeystoreError (io, malformed, wrong_password, ...).")
      .def(
          "to_keystore",
          [](const PrivateKey& key, const std::filesystem::path& path, const py::object& password,
             bool light) {
            const Password p(password);
            auto doc = [&] {
              py::gil_scoped_release unlocked;
              return encrypt_keystore(key, p.view(),
                                      light ? ScryptParams::light() : ScryptParams::standard());
            }();
            if (auto written = write_keystore_file(path, doc); !written)
              raise_keystore(written.error());
          },
          py::arg("path"), py::arg("password"), py::arg("light") = false,
          "Writes the key as a new keystore file (mode 0600, never overwriting: KeystoreError "
          "exists). light: scrypt's light parameters, for tests only.")
      .def_property_readonly(
          "address", [](const PrivateKey& k) { return k.address().to_hex(); },
          "The address, 0x + 40 lowercase hex digits (the wire form).")
      .def_property_readonly(
          "checksum_address", [](const PrivateKey& k) { return k.address().to_checksummed(); },
          "The address in EIP-55 form, for people.")
      .def("__repr__", [](const PrivateKey& k) {
        return "PrivateKey(" + k.address().to_hex() + ", <redacted>)";
      });

  m.def(
      "sign",
      [](const PrivateKey& key, const py::bytes& data) {
        return personal_sign(key, as_bytes(data)).to_hex();
      },
      py::arg("key"), py::arg("data"),
      "personal_sign (EIP-191) of data: 0x + 130 hex digits (r, s, v in {27, 28}).");
  m.def(
      "recover",
      [](const py::bytes& data, const std::string& signature) {
        auto a = ecrecover(as_bytes(data), signature);
        if (!a)
          raise(errors().signature, sdk::kind_of(a.error()), std::string(to_string(a.error())));
        return a->to_hex();
      },
      py::arg("data"), py::arg("signature"),
      "The address whose key signed data (personal_sign's hashing). Raises SignatureError.");
  m.def(
      "checksum_address", [](const std::string& text) { return to_address(text).to_checksummed(); },
      py::arg("address"), "EIP-55 form of an address. Raises AddressError.");
}

}  // namespace mrt::python
