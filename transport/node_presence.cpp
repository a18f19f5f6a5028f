// NodeWorker, presence and reachability: an address is reachable when one of its
// validated user ids (on any homeserver, PROTOCOL §8) is online. Presence arrives with /sync for
// users who share a room with us; for others the homeserver is asked when the application
// wants to know (over federation for a remote id).
#include <mrt/matrix_identity.hpp>

#include "node_worker_state.hpp"

namespace mrt::transport {

using json = nlohmann::json;
using namespace worker;

void NodeWorker::on_presence(const std::string& user_id, const std::string& presence) {
  if (presence_.set(user_id, presence)) recompute_reachability(user_id);
}

void NodeWorker::recompute_reachability(const std::string& user_id) {
  auto address = address_of_user_id(user_id);
  if (!address || *address == me_) return;
  if (!validated(user_id, *address)) {
    look_up(user_id);  // comes back here once checked (on_looked_up)
    return;
  }
  const Reachability now = presence_.recompute(
      *address, [&](const std::string& user) { return validated(user, *address); });
  ctx_.homes.reachability(server_name_, *address, now);  // emits a change of the node's view
}

void NodeWorker::reachability(const Address& address, std::function<void(Reachability)> done) {
  post([this, address, done = std::move(done)] {
    if (const Reachability known = presence_.last(address); known != Reachability::unknown)
      return done(known);
    // Nothing came by /sync: ask the homeserver about each validated id of the address (found
    // first when there is none yet), and answer once every answer is in.
    after_look_ups(look_up_ids(address), [this, address, done] {
      const auto& ids = ids_.ids(address);
      if (ids.empty()) return done(Reachability::unknown);
      auto pending = std::make_shared<std::size_t>(ids.size());
      for (const auto& user_id : ids) {
        ctx_.client.call(calls::presence(user_id),
                         [this, address, user_id, done, pending](MatrixResult r) {
                           post([this, address, user_id, done, pending, r = std::move(r)] {
                             if (r && r->contains("presence") && (*r)["presence"].is_string()) {
                               presence_.set(user_id, (*r)["presence"].get<std::string>());
                               recompute_reachability(user_id);
                             }
                             if (--*pending > 0) return;
                             done(presence_.last(address));
                           });
                         });
      }
    });
  });
}

}  // namespace mrt::transport
