// NodeWorker, presence and reachability (issue 7): an address is reachable when one of its
// validated user ids is online. Presence arrives with /sync for users who share a room with
// us; for others the homeserver is asked when the application wants to know.
#include <mrt/matrix_identity.hpp>

#include "node_worker_state.hpp"

namespace mrt::transport {

using json = nlohmann::json;
using namespace worker;

void NodeWorker::on_presence(const std::string& user_id, const std::string& presence) {
  presence_of_[user_id] = presence;
  recompute_reachability(user_id);
}

void NodeWorker::recompute_reachability(const std::string& user_id) {
  auto address = address_of_user_id(user_id);
  if (!address || *address == me_) return;
  if (!validated(user_id, *address)) {
    validate_user(user_id);  // comes back here once checked (validate_user's completion)
    return;
  }
  Reachability now = Reachability::unknown;
  for (const auto& [user, presence] : presence_of_) {
    if (!validated(user, *address)) continue;
    if (presence == "online") {
      now = Reachability::reachable;
      break;
    }
    if (presence == "offline" || presence == "unavailable") now = Reachability::unreachable;
  }
  reachability_[*address] = now;
  ctx_.homes.reachability(server_name_, *address, now);  // emits a change of the node's view
}

void NodeWorker::reachability(const Address& address, std::function<void(Reachability)> done) {
  post([this, address, done = std::move(done)] {
    if (auto it = reachability_.find(address);
        it != reachability_.end() && it->second != Reachability::unknown)
      return done(it->second);
    const std::string user_id = matrix_user_id(address, server_name_);
    ctx_.client.call(
        calls::request("GET", "/_matrix/client/v3/presence/" + url_encode(user_id) + "/status",
                       json::object()),
        [this, address, user_id, done](MatrixResult r) {
          post([this, address, user_id, done, r = std::move(r)] {
            if (r && r->contains("presence") && (*r)["presence"].is_string())
              presence_of_[user_id] = (*r)["presence"].get<std::string>();
            auto answer = [this, address, user_id, done] {
              recompute_reachability(user_id);
              auto it = reachability_.find(address);
              done(it == reachability_.end() ? Reachability::unknown : it->second);
            };
            // Only a validated user id counts: check it first when it is new.
            if (presence_of_.count(user_id) && !validated(user_id, address) &&
                !invalid_users_.count(user_id)) {
              after_validation_[user_id].push_back(std::move(answer));
              return validate_user(user_id);
            }
            answer();
          });
        });
  });
}

}  // namespace mrt::transport
