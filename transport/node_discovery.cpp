// NodeWorker, discovery (issue 7): the user ids of an address, found through the homeserver's
// user directory and kept only when their displayname proves them (PROTOCOL §2), cached in the
// store until they expire.
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
    ctx_.client.call(
        calls::request("POST", "/_matrix/client/v3/user_directory/search",
                       json{{"search_term", address.to_hex()}, {"limit", kDirectoryLimit}}),
        [this, address, done](MatrixResult r) {
          post([this, address, done, r = std::move(r)] {
            if (!r) return done(fail(r.error()));
            std::vector<std::string> found;
            store::Changes c;
            const json results = r->value("results", json::array());
            for (const auto& entry : results.is_array() ? results : json::array()) {
              if (!entry.is_object() || !entry.contains("user_id") ||
                  !entry["user_id"].is_string() || !entry.contains("display_name") ||
                  !entry["display_name"].is_string())
                continue;
              const std::string user_id = entry["user_id"].get<std::string>();
              // The displayname must be the address's signature over this very user id.
              auto proven =
                  displayname_proves_user_id(user_id, entry["display_name"].get<std::string>());
              if (!proven || *proven != address) continue;
              found.push_back(user_id);
              if (!validated_.count(user_id)) remember_validated(user_id, address, c);
            }
            const json record = {{"user_ids", found},
                                 {"until", ctx_.now_ms() + ctx_.config.discovery_ttl.count()}};
            c.put(ctx_.tables.meta, ctx_.home.meta_key(discovered_key(address)), record.dump());
            ctx_.env.commit(std::move(c));
            done(std::move(found));
          });
        });
  });
}

}  // namespace mrt::transport
