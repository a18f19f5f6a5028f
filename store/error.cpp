#include <lmdb.h>

#include <mrt/store/error.hpp>

#include "env_core.hpp"

namespace mrt::store {

std::string_view to_string(OpenError e) {
  switch (e) {
    case OpenError::locked:
      return "locked";
    case OpenError::not_a_store:
      return "not_a_store";
    case OpenError::newer_schema:
      return "newer_schema";
    case OpenError::wrong_key:
      return "wrong_key";
    case OpenError::corrupt:
      return "corrupt";
    case OpenError::io:
      return "io";
    case OpenError::migration_failed:
      return "migration_failed";
  }
  return "unknown";
}

Error::Error(int lmdb_code, const std::string& what) : std::runtime_error(what), code_(lmdb_code) {}

void throw_undecodable_record(const std::string& table) {
  throw IntegrityError("store table \"" + table + "\" holds a record mrt can not decode");
}

namespace detail {

void throw_lmdb(int rc, const std::string& doing) {
  throw Error(rc, "store: " + doing + ": " + mdb_strerror(rc));
}

}  // namespace detail
}  // namespace mrt::store
