#include <mrt/store/table.hpp>

#include "env_core.hpp"

namespace mrt::store {
namespace {

std::string describe(const std::string& table, ByteView key, bool sealed) {
  // A sealed table's keys may still hint at secrets' owners: name only the table then.
  return "table \"" + table + "\"" + (sealed ? "" : ", key 0x" + to_hex(key));
}

}  // namespace

std::optional<SecretBuffer> TableBase::get_bytes(const Txn& txn, ByteView key) const {
  MDB_val k = detail::as_val(key), v;
  const int rc = mdb_get(txn.raw(), dbi_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  detail::check_lmdb(rc, "reading " + describe(name_, key, sealed_));
  // Copied out now: LMDB's memory is valid only until the transaction ends.
  if (!sealed_) return SecretBuffer(detail::as_view(v));
  auto plain = core_->sealer.open(name_, key, detail::as_view(v));
  if (!plain) {
    throw IntegrityError("store: sealed value in " + describe(name_, key, sealed_) +
                         " fails authentication (modified, moved, or another key's)");
  }
  return plain;
}

void TableBase::put_bytes(WriteTxn& txn, ByteView key, ByteView value) const {
  MDB_val k = detail::as_val(key);
  if (sealed_) {
    const Bytes sealed = core_->sealer.seal(name_, key, value);
    MDB_val v = detail::as_val(sealed);
    detail::check_lmdb(mdb_put(txn.raw(), dbi_, &k, &v, 0),
                       "writing " + describe(name_, key, sealed_));
  } else {
    MDB_val v = detail::as_val(value);
    detail::check_lmdb(mdb_put(txn.raw(), dbi_, &k, &v, 0),
                       "writing " + describe(name_, key, sealed_));
  }
}

bool TableBase::erase_bytes(WriteTxn& txn, ByteView key) const {
  MDB_val k = detail::as_val(key);
  const int rc = mdb_del(txn.raw(), dbi_, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  detail::check_lmdb(rc, "deleting from " + describe(name_, key, sealed_));
  return true;
}

void TableBase::scan_bytes(const Txn& txn, ByteView prefix,
                           const std::function<bool(ByteView, SecretBuffer)>& visit) const {
  MDB_cursor* cursor = nullptr;
  detail::check_lmdb(mdb_cursor_open(txn.raw(), dbi_, &cursor), "opening a cursor on " + name_);
  struct Closer {
    MDB_cursor* c;
    ~Closer() { mdb_cursor_close(c); }
  } closer{cursor};
  MDB_val k = detail::as_val(prefix), v;
  int rc = mdb_cursor_get(cursor, &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
  for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    const ByteView key = detail::as_view(k);
    if (key.size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), key.begin())) {
      return;
    }
    SecretBuffer value(detail::as_view(v));
    if (sealed_) {
      auto plain = core_->sealer.open(name_, key, value.view());
      if (!plain) {
        throw IntegrityError("store: sealed value in " + describe(name_, key, sealed_) +
                             " fails authentication (modified, moved, or another key's)");
      }
      value = std::move(*plain);
    }
    if (!visit(key, std::move(value))) return;
  }
  if (rc != MDB_NOTFOUND) detail::check_lmdb(rc, "iterating " + name_);
}

std::size_t TableBase::count(const Txn& txn) const {
  MDB_stat st;
  detail::check_lmdb(mdb_stat(txn.raw(), dbi_, &st), "counting " + name_);
  return st.ms_entries;
}

}  // namespace mrt::store
