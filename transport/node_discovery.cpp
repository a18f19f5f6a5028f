// NodeWorker, discovery (PROTOCOL §8): the user ids of an address, found through the
// homeserver's user directory (which lists a remote user only once it shares a room with one of
// the server's users) and as @address:S on every known server S, each kept only when its
// displayname proves it (PROTOCOL §2), cached in the store until they expire.
#include <algorithm>

#include <mrt/matrix_identity.hpp>

#include "node_worker_state.hpp"

namespace mrt::transport {

using json = nlohmann::json;
using namespace worker;

namespace {

// The directory answers at most this many users for one address; more would be spam.
constexpr int kDirectoryLimit = 50;

std::string discovered_key(const Address& address) {
  return store::join_key({"discovered", address.to_hex()});
}

}  // namespace

void NodeWorker::discover(const Address& address, DiscoverCallback done) {
  post([this, address, done = std::move(done)] {
    const std::int64_t now = ctx_.now_ms();
    if (auto cached =
            ctx_.tables.meta.get(ctx_.env.read(), ctx_.home.meta_key(discovered_key(address)))) {
      auto record = json::parse(*cached, nullptr, false);
      if (record.is_object() && record.value("until", 0LL) > now && record["user_ids"].is_array())
        return done(record["user_ids"].get<std::vector<std::string>>());
    }
    // The directory and the known servers at once; the answer waits for both.
    ids_.recheck(address);
    auto from_directory =
        std::make_shared<std::optional<Result<std::vector<std::string>, MatrixError>>>();
    auto looked_up = std::make_shared<bool>(false);
    auto answer = [this, address, done, from_directory, looked_up] {
      if (!*looked_up || !from_directory->has_value()) return;
      std::vector<std::string> found;
      if (**from_directory) found = ***from_directory;
      for (const auto& id : ids_.ids(address))
        if (std::find(found.begin(), found.end(), id) == found.end()) found.push_back(id);
      if (found.empty() && !**from_directory) return done(fail((*from_directory)->error()));
      const json record = {{"user_ids", found},
                           {"until", ctx_.now_ms() + ctx_.config.discovery_ttl.count()}};
      store::Changes c;
      c.put(ctx_.tables.meta, ctx_.home.meta_key(discovered_key(address)), record.dump());
      commit_in_background(std::move(c));
      done(std::move(found));
    };
    after_look_ups(look_up_ids(address), [looked_up, answer] {
      *looked_up = true;
      answer();
    });
    ctx_.client.call(calls::user_directory_search(address.to_hex(), kDirectoryLimit),
                     [this, address, from_directory, answer](MatrixResult r) {
                       post([this, address, from_directory, answer, r = std::move(r)] {
                         if (!r) {
                           *from_directory = fail(r.error());
                           return answer();
                         }
                         std::vector<std::string> found;
                         store::Changes c;
                         const json results = r->value("results", json::array());
                         for (const auto& entry : results.is_array() ? results : json::array()) {
                           if (!entry.is_object() || !entry.contains("user_id") ||
                               !entry["user_id"].is_string() || !entry.contains("display_name") ||
                               !entry["display_name"].is_string())
                             continue;
                           const std::string user_id = entry["user_id"].get<std::string>();
                           // The displayname must be the address's signature over this very user
                           // id.
                           auto proven = displayname_proves_user_id(
                               user_id, entry["display_name"].get<std::string>());
                           if (!proven || *proven != address) continue;
                           found.push_back(user_id);
                           remember_validated(user_id, address, c);
                         }
                         commit_in_background(std::move(c));
                         *from_directory = std::move(found);
                         answer();
                       });
                     });
  });
}

}  // namespace mrt::transport
