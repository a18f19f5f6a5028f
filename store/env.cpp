// Opening the store: directory, lock, LMDB environment, meta checks, migrations, tables.
#include <chrono>
#include <cstring>
#include <set>
#include <stdexcept>
#include <sys/stat.h>
#include <system_error>

#include <sodium.h>

#include <mrt/store/codecs.hpp>

#include "env_impl.hpp"

namespace mrt::store {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMagic = "mrt-store";
constexpr const char* kMetaTable = "meta";

Failure<OpenFailure> refuse(OpenError code, std::string message) {
  return fail(OpenFailure{code, std::move(message)});
}

// Creates the directory 0700, or checks that an existing one is a store (or empty).
std::optional<OpenFailure> prepare_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec)
      return OpenFailure{OpenError::io, "cannot create " + dir.string() + ": " + ec.message()};
  } else if (!fs::is_directory(dir, ec)) {
    return OpenFailure{OpenError::not_a_store, dir.string() + " is not a directory"};
  } else if (!fs::exists(dir / "data.mdb")) {
    static const std::set<std::string> kOurs = {"lock.mdb", "mrt.lock"};
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (!kOurs.count(entry.path().filename().string())) {
        return OpenFailure{OpenError::not_a_store,
                           dir.string() + " is not empty and holds no mrt store (found " +
                               entry.path().filename().string() + ")"};
      }
    }
  }
  // Only the owner may look inside: keys are sealed, but record keys and sizes are not.
  if (::chmod(dir.c_str(), 0700) != 0) {
    return OpenFailure{OpenError::io, "cannot set mode 0700 on " + dir.string() + ": " +
                                          std::generic_category().message(errno)};
  }
  return std::nullopt;
}

std::string meta_string(MDB_txn* txn, MDB_dbi meta, const char* key) {
  MDB_val k{std::strlen(key), const_cast<char*>(key)}, v;
  if (mdb_get(txn, meta, &k, &v) != MDB_SUCCESS) return {};
  return std::string(static_cast<const char*>(v.mv_data), v.mv_size);
}

void put_meta(MDB_txn* txn, MDB_dbi meta, const char* key, ByteView value) {
  MDB_val k{std::strlen(key), const_cast<char*>(key)}, v = detail::as_val(value);
  detail::check_lmdb(mdb_put(txn, meta, &k, &v, 0), std::string("writing meta ") + key);
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// Checks (or, for a new store, writes) meta and runs migrations, inside `txn`.
std::optional<OpenFailure> check_meta(MDB_txn* txn, const Options& options, const Bytes& key_check,
                                      const detail::EnvCore& core) {
  MDB_dbi main_dbi;
  detail::check_lmdb(mdb_dbi_open(txn, nullptr, 0, &main_dbi), "opening the main table");
  MDB_stat st;
  detail::check_lmdb(mdb_stat(txn, main_dbi, &st), "reading the main table");
  MDB_dbi meta;
  if (st.ms_entries == 0) {  // a new store
    detail::check_lmdb(mdb_dbi_open(txn, kMetaTable, MDB_CREATE, &meta), "creating meta");
    put_meta(txn, meta, "magic", as_bytes(kMagic));
    put_meta(txn, meta, "schema", U64Key::encode(options.schema_version));
    put_meta(txn, meta, "crypto_backend", as_bytes(kCryptoBackend));
    put_meta(txn, meta, "created_at_ms", U64Key::encode(now_ms()));
    put_meta(txn, meta, "key_check", key_check);
    return std::nullopt;
  }
  if (const int rc = mdb_dbi_open(txn, kMetaTable, 0, &meta);
      rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
    // Pages that do not read as pages: a damaged (for example truncated) file.
    return OpenFailure{OpenError::corrupt,
                       options.dir.string() + "/data.mdb is damaged: " + mdb_strerror(rc)};
  } else if (rc == MDB_NOTFOUND || meta_string(txn, meta, "magic") != kMagic) {
    return OpenFailure{OpenError::not_a_store,
                       options.dir.string() + " holds an LMDB database that is not an mrt store"};
  }
  const std::string check = meta_string(txn, meta, "key_check");
  if (check.size() != key_check.size() ||
      sodium_memcmp(check.data(), key_check.data(), check.size()) != 0) {
    return OpenFailure{OpenError::wrong_key,
                       "store " + options.dir.string() + " belongs to another key"};
  }
  const auto schema = U64Key::decode(as_bytes(meta_string(txn, meta, "schema")));
  if (!schema) return OpenFailure{OpenError::not_a_store, "store meta has no schema version"};
  if (*schema > options.schema_version) {
    return OpenFailure{OpenError::newer_schema,
                       "store " + options.dir.string() + " has schema version " +
                           std::to_string(*schema) + ", newer than this build's " +
                           std::to_string(options.schema_version) + ": upgrade mrt to open it"};
  }
  for (std::uint64_t v = *schema; v < options.schema_version; ++v) {
    const auto migration = options.migrations.find(static_cast<std::uint32_t>(v));
    if (migration == options.migrations.end()) {
      return OpenFailure{
          OpenError::migration_failed,
          "no migration from schema " + std::to_string(v) + " to " + std::to_string(v + 1)};
    }
    try {
      WriteTxn w(&core, txn);
      migration->second(w);
    } catch (const std::exception& e) {
      return OpenFailure{OpenError::migration_failed,
                         "migration from schema " + std::to_string(v) + " failed: " + e.what()};
    }
  }
  put_meta(txn, meta, "schema", U64Key::encode(options.schema_version));
  return std::nullopt;
}

// LMDB leaves data.mdb shorter than its last page number says when the pages at the end were
// freed by the transaction that allocated them: they are never written (a node's store does this
// often: records put and erased in one commit). Reading a page past the end of the mapped file
// would be SIGBUS, so a short file is extended with zero pages: a free page is never read, and a
// page that a damaged file really lacks reads as zeros, which LMDB reports as MDB_CORRUPTED.
std::optional<OpenFailure> extend_short_file(MDB_env* env, const fs::path& dir) {
  MDB_envinfo info;
  MDB_stat st;
  if (mdb_env_info(env, &info) != MDB_SUCCESS || mdb_env_stat(env, &st) != MDB_SUCCESS) {
    return OpenFailure{OpenError::corrupt, "cannot read the store's LMDB header"};
  }
  std::error_code ec;
  const fs::path file = dir / "data.mdb";
  const auto size = fs::file_size(file, ec);
  const auto needed = (static_cast<std::uintmax_t>(info.me_last_pgno) + 1) * st.ms_psize;
  if (!ec && size < needed) fs::resize_file(file, needed, ec);
  if (ec) {
    return OpenFailure{OpenError::io, "cannot size " + file.string() + ": " + ec.message()};
  }
  return std::nullopt;
}

}  // namespace

Env::Impl::~Impl() {
  if (writer.joinable()) {
    {
      std::lock_guard lock(queue_mutex);
      stopping = true;
    }
    queue_cv.notify_all();
    writer.join();
  }
  if (core.env) mdb_env_close(core.env);
}

Result<Env, OpenFailure> Env::open(const Options& options, const StoreKey& key) {
  if (auto bad = prepare_dir(options.dir)) return fail(std::move(*bad));
  auto lock = detail::DirLock::acquire(options.dir);
  if (!lock) return fail(lock.error());
  detail::StoreKeys keys = detail::StoreKeys::derive(key);
  const Bytes key_check = keys.check;
  auto impl = std::make_unique<Impl>(std::move(keys), std::move(*lock), options);

  MDB_env* env = nullptr;
  detail::check_lmdb(mdb_env_create(&env), "creating the LMDB environment");
  impl->core.env = env;  // closed by ~Impl from here on
  detail::check_lmdb(mdb_env_set_maxdbs(env, static_cast<MDB_dbi>(options.tables.size() + 1)),
                     "setting the table count");
  detail::check_lmdb(mdb_env_set_mapsize(env, options.initial_map_size), "setting the map size");
  unsigned int flags = MDB_NOTLS;
  if (options.durability == Durability::off) flags |= MDB_NOSYNC | MDB_NOMETASYNC;
  if (int rc = mdb_env_open(env, options.dir.c_str(), flags, 0600); rc != MDB_SUCCESS) {
    const bool io = rc == EACCES || rc == ENOENT || rc == ENOSPC || rc == EROFS;
    return refuse(io ? OpenError::io : OpenError::corrupt,
                  "cannot open store " + options.dir.string() + ": " + mdb_strerror(rc));
  }
  if (auto bad = extend_short_file(env, options.dir)) return fail(std::move(*bad));

  MDB_txn* txn = nullptr;
  detail::check_lmdb(mdb_txn_begin(env, nullptr, 0, &txn), "starting the opening transaction");
  try {
    if (auto bad = check_meta(txn, options, key_check, impl->core)) {
      mdb_txn_abort(txn);
      return fail(std::move(*bad));
    }
    for (const TableSpec& spec : options.tables) {
      if (spec.name == kMetaTable || impl->tables.count(spec.name)) {
        throw std::invalid_argument("store: table \"" + spec.name +
                                    "\" declared twice or reserved");
      }
      if (spec.name.size() > detail::Sealer::kMaxTableName) {  // see Sealer
        throw std::invalid_argument("store: table name longer than 255 bytes");
      }
      MDB_dbi dbi;
      detail::check_lmdb(mdb_dbi_open(txn, spec.name.c_str(), MDB_CREATE, &dbi),
                         "opening table " + spec.name);
      impl->tables[spec.name] = {dbi, spec.sealing == Sealing::sealed};
    }
  } catch (...) {
    mdb_txn_abort(txn);
    throw;
  }
  detail::check_lmdb(mdb_txn_commit(txn), "committing the opening transaction");
  impl->start_writer();
  return Env(std::move(impl));
}

Env::Env(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Env::Env(Env&&) noexcept = default;
Env& Env::operator=(Env&&) noexcept = default;
Env::~Env() = default;

std::pair<unsigned int, bool> Env::find_table(const std::string& name) const {
  const auto it = impl_->tables.find(name);
  if (it == impl_->tables.end()) {
    throw std::invalid_argument("store: table \"" + name +
                                "\" was not declared in Options::tables");
  }
  return it->second;
}

const detail::EnvCore* Env::core() const {
  return &impl_->core;
}

ReadTxn Env::read() const {
  return ReadTxn(&impl_->core);
}

std::future<void> Env::commit(Changes changes) {
  if (changes.has_hooks())
    throw std::invalid_argument("store: a Changes with hooks is committed with commit_now");
  auto shared = std::make_shared<Changes>(std::move(changes));
  return write([shared](WriteTxn& txn) { shared->apply(txn); });
}

void Env::commit_now(Changes changes) {
  auto hooks = changes.take_hooks();
  try {
    if (!changes.empty()) commit(std::move(changes)).get();
  } catch (...) {
    for (auto& [owner, hook] : hooks.abandoned) {
      try {
        hook();
      } catch (...) {
        // The commit's own error is the one to report.
      }
    }
    throw;
  }
  for (auto& [owner, hook] : hooks.committed) hook();
}

std::future<void> Env::write(std::function<void(WriteTxn&)> step) {
  auto promise = std::make_shared<std::promise<void>>();
  auto future = promise->get_future();
  write(std::move(step), [promise](const std::exception_ptr& error) {
    if (error) {
      promise->set_exception(error);
    } else {
      promise->set_value();
    }
  });
  return future;
}

void Env::write(std::function<void(WriteTxn&)> step, std::function<void(std::exception_ptr)> done) {
  impl_->enqueue({std::move(step), std::move(done)});
}

Bytes Env::keyed_hash(ByteView data) const {
  Bytes out(32);
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), impl_->key_hash_key.data(),
                     impl_->key_hash_key.size());
  return out;
}

Stats Env::stats() const {
  MDB_envinfo info;
  mdb_env_info(impl_->core.env, &info);
  return {impl_->writes.load(), impl_->group_commits.load(), impl_->map_resizes.load(),
          info.me_mapsize};
}

const std::filesystem::path& Env::dir() const {
  return impl_->dir;
}

}  // namespace mrt::store
