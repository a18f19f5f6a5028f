// File: mrt/store/error.hpp
//
// How the store fails. Opening can fail for reasons a caller handles (`OpenError`: another
// process holds the store, it belongs to another key, its schema is newer); everything after
// that is a storage failure and throws `store::Error` (LMDB's code and text, and what mrt was
// doing), or `store::IntegrityError` when a stored value does not decode or authenticate.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace mrt::store {

enum class OpenError : int {
  locked = 1,        // another live process has the store open
  not_a_store = 2,   // the directory holds something else
  newer_schema = 3,  // written by a newer mrt: refused, never downgraded
  wrong_key = 4,     // the store belongs to another Ethereum key
  corrupt = 5,       // LMDB refuses the files (truncated, not an LMDB file)
  io = 6,            // the directory or its files can not be created or opened
  migration_failed = 7,
};
std::string_view to_string(OpenError e);

struct OpenFailure {
  OpenError code;
  std::string message;
};

// A storage failure: disk full, I/O error, a broken invariant of LMDB. `code` is LMDB's (an
// errno or a negative MDB_* value).
class Error : public std::runtime_error {
 public:
  Error(int lmdb_code, const std::string& what);
  int code() const { return code_; }

 private:
  int code_;
};

// A stored value that does not open (sealed value modified or moved to another record) or does
// not decode: the data on disk is not what mrt wrote. Never returned as garbage.
class IntegrityError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace mrt::store
