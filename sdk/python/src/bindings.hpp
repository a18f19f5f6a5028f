// sdk/python/src/bindings.hpp: what the binding files of the `mrt._mrt` extension share: the
// exception types and the conversions between mrt's values and Python's.
#pragma once

#include <pybind11/pybind11.h>
#include <string>
#include <string_view>

#include <mrt/eth.hpp>

namespace mrt::python {

namespace py = pybind11;

// mrt.Error and its subclasses (created once by bind_errors); each instance carries `kind`, the
// reason enum's name ("outbox_full", "wrong_password", "bad_signature"...).
struct Errors {
  py::object error, node, keystore, key, address, signature, envelope;
};
const Errors& errors();
void bind_errors(py::module_& m);
[[noreturn]] void raise(const py::object& type, std::string_view kind, const std::string& message);

// An address as a person or a peer wrote it: the wire form or an EIP-55 checksum (else
// mrt.AddressError).
Address to_address(const std::string& text);

void bind_keys(py::module_& m);
void bind_envelopes(py::module_& m);
void bind_node(py::module_& m);

}  // namespace mrt::python
