// The `mrt._mrt` extension: mrt's C++ API for Python. The package `mrt` (mrt/__init__.py)
// re-exports it with the asyncio layer beside it (mrt/aio.py).
#include "bindings.hpp"

PYBIND11_MODULE(_mrt, m) {
  m.doc() = "Matrix Raiden Transport: Raiden nodes' messaging over Matrix (C++ core)";
  mrt::python::bind_errors(m);
  mrt::python::bind_keys(m);
  mrt::python::bind_envelopes(m);
  mrt::python::bind_node(m);
}
