#include "storage.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include <mrt/owner_store_key.hpp>
#include <mrt/store/codecs.hpp>

namespace mrt::devserver {

namespace {

namespace fs = std::filesystem;
using store::StringKey, store::StringValue, store::U64Key;

// The store's owner key: created once, 0600, reused on every later start.
Result<PrivateKey, std::string> server_key(const fs::path& file) {
  std::ifstream in(file);
  if (in) {
    std::string hex;
    std::getline(in, hex);
    auto key = PrivateKey::from_hex(hex);
    if (!key) return fail(file.string() + " does not hold a key");
    return std::move(*key);
  }
  PrivateKey key = PrivateKey::generate();
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return fail("cannot create " + file.string() + ": " + std::strerror(errno));
  const std::string text = to_hex(key.secret()) + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return fail("cannot write " + file.string());
  return key;
}

}  // namespace

Storage::Storage(store::Env env)
    : env_(std::move(env)),
      meta_(env_.table<StringKey, StringValue>("hs_meta")),
      users_(env_.table<StringKey, StringValue>("users")),
      aliases_(env_.table<StringKey, StringValue>("aliases")),
      events_(env_.table<U64Key, StringValue>("events")),
      device_changes_(env_.table<U64Key, StringValue>("device_changes")) {}

Result<Storage, std::string> Storage::open(const fs::path& data_dir, store::Durability durability) {
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) return fail("cannot create " + data_dir.string() + ": " + ec.message());
  ::chmod(data_dir.c_str(), 0700);
  auto key = server_key(data_dir / "server.key");
  if (!key) return fail(key.error());
  store::Options options{
      .dir = data_dir / "store",
      .tables = {{"hs_meta"}, {"users"}, {"aliases"}, {"events"}, {"device_changes"}},
      .durability = durability};
  auto env = store::Env::open(options, store_key_for(*key));
  if (!env) return fail("cannot open the store: " + env.error().message);
  return Storage(std::move(*env));
}

LoadedState Storage::load() const {
  LoadedState s;
  auto txn = env_.read();
  users_.for_each(txn, {}, [&](const std::string&, std::string v) {
    s.users.push_back(user_from_json(Json::parse(v)));
    return true;
  });
  events_.for_each(txn, {}, [&](const std::uint64_t& pos, std::string v) {
    s.events.emplace_back(pos, Json::parse(v));
    return true;
  });
  aliases_.for_each(txn, {}, [&](const std::string& alias, std::string room) {
    s.aliases.emplace(alias, std::move(room));
    return true;
  });
  device_changes_.for_each(txn, {}, [&](const std::uint64_t& pos, std::string user) {
    s.device_changes.emplace_back(pos, std::move(user));
    return true;
  });
  if (auto pos = meta_.get(txn, "position")) s.position = std::stoull(*pos);
  return s;
}

void Storage::put_user(store::Changes& c, const User& user) const {
  c.put(users_, user.id, to_json(user).dump());
}
void Storage::put_event(store::Changes& c, StreamPos pos, const Json& event) const {
  c.put(events_, pos, event.dump());
}
void Storage::put_alias(store::Changes& c, const std::string& alias,
                        const std::string& room) const {
  c.put(aliases_, alias, room);
}
void Storage::erase_alias(store::Changes& c, const std::string& alias) const {
  c.erase(aliases_, alias);
}
void Storage::put_device_change(store::Changes& c, StreamPos pos, const std::string& user) const {
  c.put(device_changes_, pos, user);
}
void Storage::put_position(store::Changes& c, StreamPos pos) const {
  c.put(meta_, "position", std::to_string(pos));
}

}  // namespace mrt::devserver
