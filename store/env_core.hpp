#pragma once

#include <lmdb.h>
#include <shared_mutex>
#include <string>

#include <mrt/store/error.hpp>

#include "store_keys.hpp"

namespace mrt::store::detail {

// What tables and transactions share: the LMDB environment, the sealer, and the lock that keeps
// the map from being resized under an open reader.
struct EnvCore {
  MDB_env* env = nullptr;
  Sealer sealer;
  mutable std::shared_mutex map_mutex;
};

// Throws store::Error for an LMDB failure, saying what mrt was doing.
[[noreturn]] void throw_lmdb(int rc, const std::string& doing);
inline void check_lmdb(int rc, const std::string& doing) {
  if (rc != MDB_SUCCESS) throw_lmdb(rc, doing);
}

inline MDB_val as_val(ByteView b) {
  return MDB_val{b.size(), const_cast<std::uint8_t*>(b.data())};
}
inline ByteView as_view(const MDB_val& v) {
  return {static_cast<const std::uint8_t*>(v.mv_data), v.mv_size};
}

}  // namespace mrt::store::detail
