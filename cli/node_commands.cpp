// mrt node (JSON lines on stdin/stdout), mrt send, mrt listen: an mrt::Node from the shell.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <ctime>
#include <exception>
#include <fcntl.h>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <poll.h>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <mrt/canonical_json.hpp>

#include "command.hpp"
#include "node_setup.hpp"

namespace mrt::cli {
namespace {

using json = nlohmann::json;

// A JSON value as an address a person may have typed (wire form or EIP-55), if it is one.
std::optional<Address> as_address(const json& value) {
  if (!value.is_string()) return std::nullopt;
  auto a = Address::parse_checksummed(value.get<std::string>());
  return a ? std::optional<Address>(*a) : std::nullopt;
}

std::optional<Address> address_in(const json& op, const char* field) {
  const auto it = op.find(field);
  return it == op.end() ? std::nullopt : as_address(*it);
}

using namespace std::chrono_literals;

// Longest stdin line `mrt node` reads; a longer one is answered with a too_large error.
constexpr std::size_t kMaxLineBytes = std::size_t{1} << 20;

// stdout, one JSON object per line, each written whole and flushed under one mutex.
class LineWriter {
 public:
  std::unique_lock<std::mutex> lock() { return std::unique_lock(mutex_); }
  // With lock() held. False once stdout is gone (EPIPE); nothing is written after that.
  bool write_locked(const json& object) { return write_text_locked(json_line(object)); }
  bool write(const json& object) {
    auto held = lock();
    return write_locked(object);
  }
  // A line for people, "\n" included.
  bool write_text(const std::string& line) {
    auto held = lock();
    return write_text_locked(line);
  }

 private:
  bool write_text_locked(const std::string& line) {
    if (broken_) return false;
    for (std::size_t done = 0; done < line.size();) {
      const ssize_t n = ::write(STDOUT_FILENO, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        broken_ = true;
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  std::mutex mutex_;
  bool broken_ = false;
};

// The JSON-lines session of `mrt node`: this thread reads stdin and carries out ops, a second
// one drains the node's events to stdout and marks messages consumed once they are written.
class Session {
 public:
  Session(Node& node, StopSignals& signals) : node_(node), signals_(signals) {
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe2 failed");
  }
  ~Session() {
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  int run() {
    if (!out_.write(started_json(node_))) return kCheckFailed;
    std::thread events([this] { drain_events(); });
    try {
      read_ops();
    } catch (...) {
      finish(events);
      throw;
    }
    finish(events);
    if (events_error_) std::rethrow_exception(events_error_);
    if (!out_.write({{"event", "stopped"}})) return kCheckFailed;
    return stdout_gone_ ? kCheckFailed : kOk;
  }

 private:
  void finish(std::thread& events) {
    done_ = true;
    node_.stop();
    events.join();
  }

  void drain_events() {
    try {
      while (!done_) {
        auto event = node_.next_event(200ms);
        if (!event) continue;
        if (!out_.write(event_json(*event))) {
          stdout_gone_ = true;
          break;
        }
        node_.consumed(*event);  // written out: not reported again after a restart
      }
    } catch (...) {
      events_error_ = std::current_exception();
    }
    if (!done_) (void)!::write(wake_[1], "x", 1);
  }

  // Until {"op":"stop"}, EOF, SIGINT/SIGTERM, or stdout closing.
  void read_ops() {
    std::string buffer;
    bool discarding = false;  // the rest of a line that was too long
    pollfd fds[3] = {{STDIN_FILENO, POLLIN, 0}, {signals_.fd(), POLLIN, 0}, {wake_[0], POLLIN, 0}};
    for (;;) {
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error("poll failed");
      }
      if (fds[1].revents != 0 && signals_.received()) return;
      if (fds[2].revents != 0) return;
      if (fds[0].revents == 0) continue;
      char chunk[65536];
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {  // EOF: a last line without "\n" still counts
        if (!discarding && !buffer.empty()) handle_line(buffer);
        return;
      }
      std::size_t start = buffer.size();
      buffer.append(chunk, static_cast<std::size_t>(n));
      for (std::size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = 0) {
        std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        if (discarding) {
          discarding = false;
          continue;
        }
        if (line.size() > kMaxLineBytes) {
          too_long();
          continue;
        }
        if (!handle_line(line)) return;
      }
      if (buffer.size() > kMaxLineBytes) {
        if (!discarding) too_long();
        buffer.clear();
        discarding = true;
      }
    }
  }

  void too_long() {
    error(json(), "too_large",
          "a line longer than " + std::to_string(kMaxLineBytes) + " bytes was dropped");
  }

  void error(const json& ref, const std::string& reason, const std::string& message) {
    json e = {{"event", "error"}, {"reason", reason}, {"message", message}};
    if (!ref.is_null()) e["ref"] = ref;
    if (!out_.write(e)) stdout_gone_ = true;
  }

  // False when the line asks the node to stop.
  bool handle_line(std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) return true;  // blank: ignored
    // Strict (PROTOCOL §1's JSON: no floats, duplicate keys or nesting past 128 levels), so
    // that no line can make the echoed `ref` too deep to print.
    auto parsed = parse_json_strict(line);
    if (!parsed) {
      error(json(), "bad_request", "not a JSON line: " + parsed.error().message);
      return true;
    }
    const json op = std::move(*parsed);
    if (!op.is_object()) {
      error(json(), "bad_request", "an op is a JSON object");
      return true;
    }
    const json ref = op.contains("ref") ? op["ref"] : json();
    if (op.contains("ref") && ref.is_null()) {
      error(json(), "bad_request", "\"ref\" may be any JSON value but null");
      return true;
    }
    const auto name = op.find("op");
    if (name == op.end() || !name->is_string()) {
      error(ref, "bad_request", "\"op\" is missing or not a string");
      return true;
    }
    const std::string what = name->get<std::string>();
    const auto only = [&](std::initializer_list<const char*> allowed) {
      for (const auto& item : op.items()) {
        const std::string& key = item.key();  // not a structured binding: clang 14's lambdas
        if (key == "op" || key == "ref") continue;
        if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; }) ==
            allowed.end()) {
          error(ref, "bad_request", "unknown field \"" + key + "\" in a " + what + " op");
          return false;
        }
      }
      return true;
    };
    if (what == "stop") return !only({});
    if (what == "stats") {
      if (!only({})) return true;
      json stats = to_json(node_.stats());
      stats["event"] = "stats";
      if (!ref.is_null()) stats["ref"] = ref;
      if (!out_.write(stats)) stdout_gone_ = true;
      return true;
    }
    if (what == "send") {
      if (only({"to", "body", "bodies"})) send(op, ref);
      return true;
    }
    if (what == "reachability" || what == "discover") {
      if (!only({"address"})) return true;
      const auto peer = address_in(op, "address");
      if (!peer) {
        error(ref, "bad_request", "\"address\" is missing or not an address");
        return true;
      }
      json answer = {{"event", what == "discover" ? "discovered" : "reachability"},
                     {"address", peer->to_hex()}};
      if (what == "discover") {
        auto ids = node_.discover(*peer);
        if (!ids) {
          error(ref, std::string(to_string(ids.error().kind)), ids.error().message);
          return true;
        }
        answer["user_ids"] = *ids;
      } else {
        answer["state"] = to_string(node_.reachability(*peer));
      }
      if (!ref.is_null()) answer["ref"] = ref;
      if (!out_.write(answer)) stdout_gone_ = true;
      return true;
    }
    if (what == "peer") {
      if (only({"address", "user_ids", "metadata"})) peer(op, ref);
      return true;
    }
    if (what == "challenge") {
      if (only({"address", "user_id"})) challenge(op, ref);
      return true;
    }
    if (what == "metadata") {
      if (only({})) metadata(ref);
      return true;
    }
    if (what == "evidence") {
      if (only({"topic"})) evidence(op, ref);
      return true;
    }
    if (what == "capabilities" || what == "set_capabilities") {
      if (what == "capabilities" ? only({"address"}) : only({"capabilities"}))
        capabilities(what, op, ref);
      return true;
    }
    if (what == "subscribe" || what == "broadcast") {
      if (what == "subscribe" ? only({"topic"}) : only({"topic", "body"})) room_op(what, op, ref);
      return true;
    }
    if (what == "cancel") {
      if (only({"id"})) cancel(op, ref);
      return true;
    }
    if (what == "watch") {
      if (only({"address"})) watch(op, ref);
      return true;
    }
    if (what == "allowlist" || what == "publishers") {
      if (what == "allowlist" ? only({"addresses"}) : only({"topic", "addresses"}))
        access_list(what, op, ref);
      return true;
    }
    error(ref, "bad_request",
          "unknown op \"" + what +
              "\" (send, cancel, peer, watch, allowlist, publishers, subscribe, broadcast, "
              "reachability, discover, challenge, metadata, capabilities, set_capabilities, "
              "evidence, "
              "stats, stop)");
    return true;
  }

  void answer(json line, const json& ref) {
    if (!ref.is_null()) line["ref"] = ref;
    if (!out_.write(line)) stdout_gone_ = true;
  }

  // cancel {id} -> cancelled {id, cancelled}: whether the message was still waiting for its ack.
  void cancel(const json& op, const json& ref) {
    const auto id = op.find("id");
    if (id == op.end() || !id->is_string())
      return error(ref, "bad_request", "\"id\" is missing or not a string");
    auto cancelled = node_.cancel(id->get<std::string>());
    if (!cancelled)
      return error(ref, std::string(to_string(cancelled.error().kind)), cancelled.error().message);
    answer({{"event", "cancelled"}, {"id", *id}, {"cancelled", *cancelled}}, ref);
  }

  // watch {address} -> watching {address}: ids, DM room and reachability ahead of time.
  void watch(const json& op, const json& ref) {
    const auto who = address_in(op, "address");
    if (!who) return error(ref, "bad_request", "\"address\" is missing or not an address");
    if (auto watched = node_.watch(*who); !watched)
      return error(ref, std::string(to_string(watched.error().kind)), watched.error().message);
    answer({{"event", "watching"}, {"address", who->to_hex()}}, ref);
  }

  // allowlist {addresses|null} -> allowlist {addresses}; publishers {topic, addresses|null} ->
  // publishers {topic, addresses}: rule 8's lists from now on (null: everyone).
  void access_list(const std::string& what, const json& op, const json& ref) {
    const auto list = op.find("addresses");
    if (list == op.end() || !(list->is_array() || list->is_null()))
      return error(ref, "bad_request", "\"addresses\" is missing or not an array or null");
    std::optional<std::set<Address>> addresses;
    if (list->is_array()) {
      addresses.emplace();
      for (const auto& a : *list) {
        const auto parsed = as_address(a);
        if (!parsed) return error(ref, "bad_request", "\"addresses\" holds a non-address");
        addresses->insert(*parsed);
      }
    }
    json line = {{"event", what}, {"addresses", *list}};
    if (what == "allowlist") {
      node_.set_allowlist(std::move(addresses));
    } else {
      const auto topic = op.find("topic");
      if (topic == op.end() || !topic->is_string())
        return error(ref, "bad_request", "\"topic\" is missing or not a string");
      if (auto set = node_.set_publishers(*topic, std::move(addresses)); !set)
        return error(ref, std::string(to_string(set.error().kind)), set.error().message);
      line["topic"] = *topic;
    }
    answer(std::move(line), ref);
  }

  // peer {address, user_ids | metadata} -> peer {address, user_ids}: PROTOCOL §8's ids the
  // application knows, as candidates; or a peer's address metadata (Raiden's Pathfinding
  // Service: {user_id, displayname, capabilities}), its id validated by the displayname.
  void peer(const json& op, const json& ref) {
    const auto who = address_in(op, "address");
    if (!who) return error(ref, "bad_request", "\"address\" is missing or not an address");
    const auto ids = op.find("user_ids");
    const auto metadata = op.find("metadata");
    if ((ids == op.end()) == (metadata == op.end()))
      return error(ref, "bad_request", "give exactly one of \"user_ids\" and \"metadata\"");
    std::vector<std::string> user_ids;
    Result<Unit, NodeError> added = Unit{};
    if (metadata != op.end()) {
      const auto field = [&](const char* name) -> std::optional<std::string> {
        const auto it = metadata->find(name);
        if (it == metadata->end()) return std::string();
        if (!it->is_string()) return std::nullopt;
        return it->get<std::string>();
      };
      const auto user_id = metadata->is_object() ? field("user_id") : std::nullopt;
      const auto displayname = metadata->is_object() ? field("displayname") : std::nullopt;
      if (!user_id || user_id->empty() || !displayname)
        return error(ref, "bad_request",
                     "\"metadata\" is not an object with a string user_id (and displayname)");
      user_ids.push_back(*user_id);
      added = node_.add_metadata(*who, {.user_id = *user_id, .displayname = *displayname});
    } else {
      if (!ids->is_array()) return error(ref, "bad_request", "\"user_ids\" is not an array");
      for (const auto& id : *ids) {
        if (!id.is_string()) return error(ref, "bad_request", "\"user_ids\" holds a non-string");
        user_ids.push_back(id.get<std::string>());
      }
      added = node_.add_user_ids(*who, user_ids);
    }
    if (!added)
      return error(ref, std::string(to_string(added.error().kind)), added.error().message);
    answer({{"event", "peer"}, {"address", who->to_hex()}, {"user_ids", user_ids}}, ref);
  }

  // challenge {address, user_id} -> challenged {address, user_id}: the candidate answered a
  // live challenge signed by the address's key (up to 10 s; else challenge_failed).
  void challenge(const json& op, const json& ref) {
    const auto who = address_in(op, "address");
    if (!who) return error(ref, "bad_request", "\"address\" is missing or not an address");
    const auto user_id = op.find("user_id");
    if (user_id == op.end() || !user_id->is_string())
      return error(ref, "bad_request", "\"user_id\" is missing or not a string");
    if (auto ok = node_.challenge(*who, *user_id); !ok)
      return error(ref, std::string(to_string(ok.error().kind)), ok.error().message);
    answer({{"event", "challenged"}, {"address", who->to_hex()}, {"user_id", *user_id}}, ref);
  }

  // metadata {} -> metadata {user_id, displayname, capabilities}: the node's own, as Raiden's
  // services hand it out.
  void metadata(const json& ref) {
    auto mine = node_.metadata();
    if (!mine) return error(ref, std::string(to_string(mine.error().kind)), mine.error().message);
    json line = to_json(*mine);
    line["event"] = "metadata";
    answer(std::move(line), ref);
  }

  // evidence {topic} -> evidence {topic, envelopes}: an events room's signed envelopes, as kept.
  void evidence(const json& op, const json& ref) {
    const auto topic = op.find("topic");
    if (topic == op.end() || !topic->is_string())
      return error(ref, "bad_request", "\"topic\" is missing or not a string");
    auto kept = node_.evidence(topic->get<std::string>());
    if (!kept) return error(ref, std::string(to_string(kept.error().kind)), kept.error().message);
    json envelopes = json::array();
    for (const auto& text : *kept) envelopes.push_back(json::parse(text));
    answer({{"event", "evidence"}, {"topic", *topic}, {"envelopes", std::move(envelopes)}}, ref);
  }

  // capabilities {address} -> capabilities {address, capabilities}: a peer's, from its profile;
  // set_capabilities {capabilities} -> capabilities_set {capabilities}: the node's own, published.
  void capabilities(const std::string& what, const json& op, const json& ref) {
    if (what == "capabilities") {
      const auto who = address_in(op, "address");
      if (!who) return error(ref, "bad_request", "\"address\" is missing or not an address");
      auto caps = node_.capabilities_of(*who);
      if (!caps) return error(ref, std::string(to_string(caps.error().kind)), caps.error().message);
      return answer({{"event", "capabilities"},
                     {"address", who->to_hex()},
                     {"capabilities", capabilities_to_json(*caps)}},
                    ref);
    }
    const auto given = op.find("capabilities");
    if (given == op.end()) return error(ref, "bad_request", "\"capabilities\" is missing");
    auto caps = capabilities_from_json(*given);
    if (!caps)
      return error(ref, "bad_request",
                   "\"capabilities\" is not an object of strings, booleans and integers (" +
                       std::string(to_string(caps.error())) + ")");
    if (auto set = node_.set_capabilities(*caps); !set)
      return error(ref, std::string(to_string(set.error().kind)), set.error().message);
    answer({{"event", "capabilities_set"}, {"capabilities", capabilities_to_json(*caps)}}, ref);
  }

  // subscribe {topic} -> subscribed {topic, room_id}; broadcast {topic, body} -> sent {id, topic}.
  void room_op(const std::string& what, const json& op, const json& ref) {
    const auto topic = op.find("topic");
    if (topic == op.end() || !topic->is_string())
      return error(ref, "bad_request", "\"topic\" is missing or not a string");
    json answer;
    if (what == "subscribe") {
      auto room = node_.subscribe(topic->get<std::string>());
      if (!room) return error(ref, std::string(to_string(room.error().kind)), room.error().message);
      answer = {{"event", "subscribed"}, {"topic", *topic}, {"room_id", *room}};
    } else {
      const auto body = op.find("body");
      if (body == op.end() || !body->is_string())
        return error(ref, "bad_request", "\"body\" is missing or not a string");
      auto id = node_.broadcast(topic->get<std::string>(), body->get<std::string>());
      if (!id) return error(ref, std::string(to_string(id.error().kind)), id.error().message);
      answer = {{"event", "sent"}, {"id", *id}, {"topic", *topic}};
    }
    if (!ref.is_null()) answer["ref"] = ref;
    if (!out_.write(answer)) stdout_gone_ = true;
  }

  void send(const json& op, const json& ref) {
    const auto to_field = op.find("to");
    if (to_field == op.end() || !to_field->is_string()) {
      return error(ref, "bad_request", "\"to\" (an address) is missing or not a string");
    }
    auto to = Address::parse_checksummed(to_field->get<std::string>());
    if (!to) {
      return error(ref, "bad_request",
                   "\"to\" is not an address: " + std::string(to_string(to.error())));
    }
    const bool one = op.contains("body"), many = op.contains("bodies");
    if (one == many)
      return error(ref, "bad_request", "give exactly one of \"body\" and \"bodies\"");
    std::vector<std::string> bodies;
    if (one) {
      if (!op["body"].is_string()) return error(ref, "bad_request", "\"body\" is not a string");
    } else {
      const json& list = op["bodies"];
      if (!list.is_array() || list.empty()) {
        return error(ref, "bad_request", "\"bodies\" is not a non-empty array");
      }
      for (const auto& b : list) {
        if (!b.is_string()) return error(ref, "bad_request", "\"bodies\" holds a non-string");
        bodies.push_back(b.get<std::string>());
      }
    }
    // The "sent" line is written before any "delivered" or "failed" of the same id: the event
    // thread waits for the writer's lock while send() makes the message durable.
    auto held = out_.lock();
    json sent = {{"event", "sent"}};
    if (one) {
      auto id = node_.send(*to, op["body"].get<std::string>());
      if (!id) {
        held.unlock();
        return error(ref, std::string(to_string(id.error().kind)), id.error().message);
      }
      sent["id"] = *id;
    } else {
      auto ids = node_.send_many(*to, std::move(bodies));
      if (!ids) {
        held.unlock();
        return error(ref, std::string(to_string(ids.error().kind)), ids.error().message);
      }
      sent["ids"] = *ids;
    }
    sent["to"] = to->to_hex();
    if (!ref.is_null()) sent["ref"] = ref;
    if (!out_.write_locked(sent)) stdout_gone_ = true;
  }

  Node& node_;
  StopSignals& signals_;
  LineWriter out_;
  int wake_[2] = {-1, -1};
  std::atomic<bool> done_{false};
  std::atomic<bool> stdout_gone_{false};
  std::exception_ptr events_error_;
};

int node_command(const std::vector<std::string>& argv, bool) {
  const Args args(argv, kNodeOptions, kNodeSwitches);
  if (!args.positional().empty()) throw UsageError("unexpected argument " + args.positional()[0]);
  StopSignals signals;  // before the node's threads exist, so that they inherit the mask
  ::signal(SIGPIPE, SIG_IGN);
  // Over a file size limit, a write fails (EFBIG) and the node reports a store error and goes
  // on, as on a full disk, instead of being killed mid-step.
  ::signal(SIGXFSZ, SIG_IGN);
  const PrivateKey key = node_key(args);
  Node node = open_and_start(node_config(args), key);
  Session session(node, signals);
  return session.run();
}

std::string read_all_stdin() {
  std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  return text;
}

// For people: the body as it is, or as a JSON string when it holds control characters.
std::string printable(const std::string& body) {
  for (unsigned char c : body) {
    if (c < 0x20 || c == 0x7f)
      return json(body).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return body;
}

std::string utc_time(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03d", static_cast<int>(ms % 1000));
  return std::string(text) + millis;
}

int send_command(const std::vector<std::string>& argv, bool json_out) {
  std::set<std::string> options = kNodeOptions;
  options.insert({"--to", "--timeout-ms"});
  const Args args(argv, options, kNodeSwitches);
  if (args.positional().size() != 1) throw UsageError("give exactly one BODY (or - for stdin)");
  auto to = Address::parse_checksummed(args.require("--to"));
  if (!to) throw UsageError("--to is not an address: " + std::string(to_string(to.error())));
  const auto timeout =
      std::chrono::milliseconds(int_option(args, "--timeout-ms", 60000, 1, 86'400'000));
  std::string body = args.positional()[0] == "-" ? read_all_stdin() : args.positional()[0];
  StopSignals signals;
  const PrivateKey key = node_key(args);
  const NodeConfig config = node_config(args);
  const std::string data_dir = config.data_dir.string();
  Node node = open_and_start(config, key);
  const auto started = std::chrono::steady_clock::now();
  auto id = node.send(*to, std::move(body));
  if (!id) {
    throw CommandError(id.error().kind == NodeErrorKind::too_large ? kBadInput : kStartFailed,
                       id.error().message);
  }
  std::cerr << "mrt send: message " << *id << " to " << to->to_checksummed()
            << " is in the outbox; waiting for its acknowledgement\n";
  const auto deadline = started + timeout;
  std::optional<NodeEvent> outcome;
  while (!outcome && std::chrono::steady_clock::now() < deadline && !signals.received()) {
    auto event = node.next_event(100ms);
    // Messages that arrive meanwhile stay in the inbox (unconsumed) for a later `mrt listen`.
    if (event && event->id == *id &&
        (event->type == NodeEventType::delivered || event->type == NodeEventType::failed)) {
      node.consumed(*event);
      outcome = std::move(event);
    }
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  node.stop();
  const std::string still =
      "; it stays in the outbox of " + data_dir + " and is resent whenever a node runs on it";
  if (!outcome) {
    throw CommandError(kNotDelivered,
                       signals.received()
                           ? "interrupted before message " + *id + " was acked" + still
                           : "no acknowledgement for message " + *id + " within " +
                                 std::to_string(timeout.count()) + " ms" + still);
  }
  if (outcome->type == NodeEventType::failed) {
    throw CommandError(kNotDelivered, "message " + *id + " failed: " + to->to_checksummed() +
                                          " did not acknowledge it before its max age");
  }
  print_result(json_out, {{"result", "delivered"}, {"id", *id}, {"to", to->to_hex()}, {"ms", ms}},
               {{"delivered", *id}, {"to", to->to_checksummed()}, {"ms", std::to_string(ms)}});
  return kOk;
}

int listen_command(const std::vector<std::string>& argv, bool json_out) {
  std::set<std::string> options = kNodeOptions;
  options.insert("--count");
  const Args args(argv, options, kNodeSwitches);
  if (!args.positional().empty()) throw UsageError("unexpected argument " + args.positional()[0]);
  const std::int64_t count = int_option(args, "--count", 0, 1, std::int64_t{1} << 53);
  StopSignals signals;
  ::signal(SIGPIPE, SIG_IGN);
  const PrivateKey key = node_key(args);
  Node node = open_and_start(node_config(args), key);
  std::cerr << "mrt listen: " << node.address().to_checksummed() << " (" << node.user_id()
            << ", device " << node.device_id() << ") is listening; Ctrl-C stops\n";
  LineWriter out;
  std::int64_t seen = 0;
  while ((count == 0 || seen < count) && !signals.received()) {
    auto event = node.next_event(100ms);
    if (!event) continue;
    const std::string peer = event->peer ? event->peer->to_checksummed() : "an unreadable sender";
    switch (event->type) {
      case NodeEventType::message: {
        bool written = true;
        if (json_out) {
          written = out.write(event_json(*event));
        } else {
          std::ostringstream line;
          line << "[" << utc_time(event->ts) << "] " << peer << " ("
               << (event->carrier ? to_string(*event->carrier) : "?")
               << "): " << printable(event->body);
          line << "\n";
          written = out.write_text(line.str());
        }
        if (!written) {
          node.stop();
          throw CommandError(kCheckFailed, "stdout was closed");
        }
        node.consumed(*event);
        ++seen;
        break;
      }
      case NodeEventType::rejected:
        std::cerr << "mrt listen: rejected an envelope from " << peer << ": "
                  << (event->reason ? to_string(*event->reason) : "?") << "\n";
        break;
      case NodeEventType::delivered:
      case NodeEventType::failed:
        std::cerr << "mrt listen: an earlier message " << event->id << " to " << peer << " "
                  << to_string(event->type) << "\n";
        node.consumed(*event);
        break;
      case NodeEventType::reachability:
        break;
      case NodeEventType::squatted:
        std::cerr << "mrt listen: the broadcast room of " << event->topic.value_or("?")
                  << " is squatted: " << event->detail << "\n";
        break;
      case NodeEventType::store_failed:
        std::cerr << "mrt listen: the store refused a write: " << event->detail << "\n";
        break;
    }
  }
  node.stop();
  return kOk;
}

}  // namespace

std::vector<Command> node_commands() {
  const std::string options = kNodeUsage;
  return {
      {"node",
       "mrt node " + options +
           "\n"
           "  Runs a node and speaks JSON lines (docs/cli.md): ops on stdin\n"
           "  ({\"op\":\"send\",\"to\":\"0x…\",\"body\":\"…\"}, {\"op\":\"stats\"}, "
           "{\"op\":\"stop\"}), one event\n"
           "  object per line on stdout (started, message, sent, delivered, failed, rejected,\n"
           "  stats, error, stopped). EOF, stop, SIGINT or SIGTERM stop it (exit 0).",
       node_command},
      {"send",
       "mrt send " + options +
           "\n"
           "          --to 0xADDRESS [--timeout-ms N] [--json] BODY|-\n"
           "  Sends one message (BODY, or stdin with -) and waits for the recipient's\n"
           "  acknowledgement (default 60000 ms): exit 0 once delivered, 8 if not.",
       send_command},
      {"listen",
       "mrt listen " + options +
           "\n"
           "          [--count N] [--json]\n"
           "  Prints the messages the node receives (text, or JSON lines with --json) until\n"
           "  SIGINT/SIGTERM or N messages.",
       listen_command},
  };
}

}  // namespace mrt::cli
