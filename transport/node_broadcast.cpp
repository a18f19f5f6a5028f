// NodeWorker, broadcast rooms (PROTOCOL §6): `#<topic>:<server_name>`, public, unencrypted,
// created by the first node to find the alias missing; a creation race (M_ROOM_IN_USE) ends
// in the winner's room.
#include "node_worker_state.hpp"

namespace mrt::transport {

using json = nlohmann::json;
using namespace worker;

namespace {

// Creations lost to another node before we give up (each loss is followed by a join).
constexpr int kMaxCreateRaces = 3;

}  // namespace

void NodeWorker::subscribe(std::string topic, RoomCallback done) {
  post([this, topic = std::move(topic), done = std::move(done)]() mutable {
    if (auto it = topic_rooms_.find(topic); it != topic_rooms_.end()) return done(it->second);
    join_broadcast(topic, std::move(done), 0);
  });
}

void NodeWorker::join_broadcast(const std::string& topic, RoomCallback done, int attempt) {
  const std::string alias = "#" + topic + ":" + server_name_;
  ctx_.client.call(calls::join(alias), [this, topic, done, attempt](MatrixResult joined) {
    post([this, topic, done, attempt, joined = std::move(joined)]() mutable {
      if (joined && joined->contains("room_id") && (*joined)["room_id"].is_string()) {
        remember_broadcast(topic, (*joined)["room_id"].get<std::string>());
        return done(topic_rooms_.at(topic));
      }
      if (joined || joined.error().http_status != 404) {
        return done(fail(joined ? MatrixError{MatrixErrorKind::bad_response, 200, "",
                                              "join answered without a room_id", std::nullopt, ""}
                                : joined.error()));
      }
      // No such alias yet: create the room under it.
      const json body = {{"room_alias_name", topic},
                         {"preset", "public_chat"},
                         {"name", topic},
                         {"visibility", "private"}};
      ctx_.client.call(calls::create_room(body), [this, topic, done, attempt](MatrixResult made) {
        post([this, topic, done, attempt, made = std::move(made)]() mutable {
          if (made && made->contains("room_id") && (*made)["room_id"].is_string()) {
            remember_broadcast(topic, (*made)["room_id"].get<std::string>());
            return done(topic_rooms_.at(topic));
          }
          if (!made && made.error().errcode == "M_ROOM_IN_USE" && attempt < kMaxCreateRaces) {
            return join_broadcast(topic, std::move(done), attempt + 1);  // another node won
          }
          done(fail(made ? MatrixError{MatrixErrorKind::bad_response, 200, "",
                                       "createRoom answered without a room_id", std::nullopt, ""}
                         : made.error()));
        });
      });
    });
  });
}

void NodeWorker::remember_broadcast(const std::string& topic, const std::string& room_id) {
  topic_rooms_[topic] = room_id;
  broadcast_rooms_[room_id] = topic;
  store::Changes c;
  c.put(ctx_.tables.meta, ctx_.home.meta_key(store::join_key({"topic", topic})), room_id);
  ctx_.env.commit(std::move(c));
}

void NodeWorker::broadcast(std::string topic, json envelope, RoomCallback done) {
  subscribe(topic, [this, envelope = std::move(envelope),
                    done = std::move(done)](Result<std::string, MatrixError> room) mutable {
    if (!room) return done(fail(room.error()));
    ctx_.client.call(calls::send_room_event(*room, kEnvelopesEventType, new_transaction_id(),
                                            json{{"envelopes", json::array({envelope})}}),
                     [this, done = std::move(done)](MatrixResult sent) {
                       post([this, done, sent = std::move(sent)] {
                         if (!sent) return done(fail(sent.error()));
                         ctx_.counters.update([](NodeStats& s) { ++s.payloads; });
                         done(sent->value("event_id", std::string()));
                       });
                     });
  });
}

}  // namespace mrt::transport
