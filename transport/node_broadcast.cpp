// NodeWorker, broadcast rooms (PROTOCOL §6, §8): `#<topic>:<B>`, B the network's broadcast
// server, public and unencrypted, one room per topic for the whole federation. Every node joins
// it over federation; only a node homed on B creates it when the alias is missing (a creation
// race, M_ROOM_IN_USE, ends in the winner's room); others retry the join with backoff. A room is
// judged on its state before the node publishes into it, and again on every state change.
#include <mrt/topics.hpp>

#include "node_worker_state.hpp"

namespace mrt::transport {

using json = nlohmann::json;
using namespace worker;

namespace {

// Creations lost to another node before we give up (each loss is followed by a join).
constexpr int kMaxCreateRaces = 3;
// Joins of an alias that is not there (yet) or whose server does not answer: 1, 2, 4, … 16 s
// apart, about a minute in all (the time Node::subscribe waits).
constexpr int kMaxJoinAttempts = 6;
// The state a broadcast room is judged on (BroadcastRoomState).
constexpr const char* kJudgedTypes[] = {"m.room.create", "m.room.join_rules", "m.room.power_levels",
                                        "m.room.encryption"};

MatrixError no_room_id(const char* call) {
  return {MatrixErrorKind::bad_response,
          200,
          "",
          std::string(call) + " answered without a room_id",
          std::nullopt,
          ""};
}

const std::string* room_id_of(const MatrixResult& r) {
  return r && r->contains("room_id") && (*r)["room_id"].is_string()
             ? &(*r)["room_id"].get_ref<const std::string&>()
             : nullptr;
}

}  // namespace

MatrixError squatted_error(const std::string& topic, const std::string& why) {
  return {MatrixErrorKind::http, 0,
          kSquattedErrcode,      "the broadcast room of " + topic + " is squatted: " + why,
          std::nullopt,          ""};
}

void NodeWorker::subscribe(std::string topic, RoomCallback done) {
  post([this, topic = std::move(topic), done = std::move(done)]() mutable {
    if (auto it = topic_rooms_.find(topic); it != topic_rooms_.end())
      return await_verdict(it->second, std::move(done));
    join_broadcast(topic, std::move(done), 0, 0);
  });
}

void NodeWorker::join_broadcast(const std::string& topic, RoomCallback done, int attempt,
                                int races) {
  const std::string alias = "#" + topic + ":" + ctx_.config.broadcast_server;
  ctx_.client.call(calls::join(alias), [this, topic, done, attempt, races](MatrixResult joined) {
    post([this, topic, done, attempt, races, joined = std::move(joined)]() mutable {
      if (const std::string* room_id = room_id_of(joined)) {
        remember_broadcast(topic, *room_id);
        return await_verdict(*room_id, std::move(done));
      }
      if (joined) return done(fail(no_room_id("join")));
      const MatrixError& e = joined.error();
      // Forbidden (banned, or not public) is an answer, except right after a lost creation race:
      // Synapse refuses joins while the winner's room is still being set up.
      if (e.kind == MatrixErrorKind::cancelled || (e.http_status == 403 && races == 0))
        return done(fail(e));
      const bool missing = e.http_status == 404;
      // An events room is made by its operator (or a network operator): another node's would be
      // judged squatted, so it waits for theirs.
      const bool may_create =
          !events_topic_operator(topic) ||
          allowed_creators(topic, ctx_.config.broadcast_operators)->contains(me_);
      if (missing && may_create && server_name_ == ctx_.config.broadcast_server)
        return create_broadcast(topic, std::move(done), races);
      // Not created yet (only a node on the broadcast server creates it), or the broadcast
      // server does not answer: join again later.
      if (attempt + 1 >= kMaxJoinAttempts) return done(fail(e));
      post_after(1000LL << attempt,
                 [this, topic, done = std::move(done), attempt, races]() mutable {
                   join_broadcast(topic, std::move(done), attempt + 1, races);
                 });
    });
  });
}

void NodeWorker::create_broadcast(const std::string& topic, RoomCallback done, int races) {
  const json body = {{"room_alias_name", topic},
                     {"preset", "public_chat"},
                     {"name", topic},
                     {"visibility", "private"}};
  ctx_.client.call(calls::create_room(body), [this, topic, done, races](MatrixResult made) {
    post([this, topic, done, races, made = std::move(made)]() mutable {
      if (const std::string* room_id = room_id_of(made)) {
        remember_broadcast(topic, *room_id);
        return await_verdict(*room_id, std::move(done));
      }
      // Another node won the race: M_ROOM_IN_USE, or, when both passed that check at once,
      // Synapse's 409 (M_UNKNOWN "Room alias … already exists") from its database.
      if (!made && (made.error().errcode == "M_ROOM_IN_USE" || made.error().http_status == 409) &&
          races < kMaxCreateRaces)
        return join_broadcast(topic, std::move(done), 0, races + 1);
      done(fail(made ? no_room_id("createRoom") : made.error()));
    });
  });
}

void NodeWorker::remember_broadcast(const std::string& topic, const std::string& room_id) {
  topic_rooms_[topic] = room_id;
  broadcasts_[room_id].topic = topic;
  store::Changes c;
  c.put(ctx_.tables.meta, ctx_.home.meta_key(store::join_key({"topic", topic})), room_id);
  commit_in_background(std::move(c));
}

void NodeWorker::await_verdict(const std::string& room_id, RoomCallback done) {
  BroadcastRoom& room = broadcasts_[room_id];
  room.waiting.push_back(std::move(done));
  if (room.verdict && room.state_loaded) return answer_waiting(room_id);
  if (!room.loading) load_broadcast_state(room_id);
}

void NodeWorker::load_broadcast_state(const std::string& room_id) {
  broadcasts_[room_id].loading = true;
  struct Load {
    BroadcastRoomState state;
    std::size_t pending = std::size(kJudgedTypes);
    bool failed = false;
  };
  auto load = std::make_shared<Load>();
  for (const char* type : kJudgedTypes) {
    ctx_.client.call(
        calls::room_state_event(room_id, type), [this, room_id, type, load](MatrixResult r) {
          post([this, room_id, type, load, r = std::move(r)] {
            if (r) {
              load->state.apply(type, *r);
            } else if (r.error().http_status != 404) {
              load->failed = true;  // 404: no such state event, which the judge reads as such
            }
            if (--load->pending > 0) return;
            auto it = broadcasts_.find(room_id);
            if (it == broadcasts_.end()) return;
            it->second.loading = false;
            if (load->failed) {
              // Not answered: loaded again later; the subscribers wait for it.
              post_after(kRoomRetryMs, [this, room_id] {
                if (broadcasts_.count(room_id) && !broadcasts_[room_id].loading)
                  load_broadcast_state(room_id);
              });
              return;
            }
            it->second.state = load->state;
            it->second.state_loaded = true;
            judge_broadcast(room_id);
          });
        });
  }
}

void NodeWorker::judge_broadcast(const std::string& room_id) {
  auto it = broadcasts_.find(room_id);
  if (it == broadcasts_.end() || !it->second.state_loaded) return;
  BroadcastRoom& room = it->second;
  std::optional<Address> creator;
  const auto operators = allowed_creators(room.topic, ctx_.config.broadcast_operators);
  if (operators && !room.state.creator.empty()) {
    if (const Address* a = ids_.address_of(room.state.creator)) {
      creator = *a;
    } else if (!ids_.refused(room.state.creator)) {
      // The creator's displayname decides whether it is an operator's: judged once checked.
      look_up(room.state.creator);
      if (ids_.in_flight(room.state.creator))
        return after_look_ups({room.state.creator}, [this, room_id] { judge_broadcast(room_id); });
    }
  }
  room.verdict = judge_broadcast_room(room.state, operators, creator);
  if (room.reported != room.verdict) {
    room.reported = room.verdict;
    if (*room.verdict != BroadcastVerdict::valid) {
      ctx_.counters.update([](NodeStats& s) { ++s.squatted; });
      NodeEvent e;
      e.type = NodeEventType::squatted;
      e.topic = room.topic;
      e.detail = explain(*room.verdict, room.state);
      ctx_.log(LogLevel::warning, "broadcast", "squatted",
               {{"topic", room.topic}, {"room_id", room_id}, {"reason", e.detail}});
      ctx_.emit(std::move(e));
    }
  }
  answer_waiting(room_id);
}

void NodeWorker::answer_waiting(const std::string& room_id) {
  BroadcastRoom& room = broadcasts_.at(room_id);
  auto waiting = std::move(room.waiting);
  room.waiting.clear();
  for (auto& done : waiting) {
    if (room.verdict == BroadcastVerdict::valid) {
      done(room_id);
    } else {
      done(fail(squatted_error(room.topic, explain(*room.verdict, room.state))));
    }
  }
}

void NodeWorker::apply_broadcast_state(const std::string& room_id, const json& events) {
  auto it = broadcasts_.find(room_id);
  if (it == broadcasts_.end()) return;
  bool changed = false;
  for (const auto& e : events) changed = it->second.state.apply_event(e) || changed;
  if (changed) judge_broadcast(room_id);
}

void NodeWorker::recheck_squatted() {
  // PROTOCOL §6: a squatted room is checked again later (its state may have been mended
  // without this node seeing the change, e.g. while it was away).
  for (auto& [room_id, room] : broadcasts_)
    if (room.verdict && *room.verdict != BroadcastVerdict::valid && !room.loading)
      load_broadcast_state(room_id);
}

void NodeWorker::broadcast(std::string topic, json envelope, RoomCallback done) {
  subscribe(std::move(topic), [this, envelope = std::move(envelope), done = std::move(done)](
                                  Result<std::string, MatrixError> room) mutable {
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
