// mrt.Node and mrt.Event: mrt::Node for Python. Every call that may wait (the store's fsync, the
// homeservers, the next event) releases the GIL, so other Python threads, gevent's hub (through
// its thread pool) and asyncio's loop (through run_in_executor) go on meanwhile.
#include <chrono>
#include <memory>
#include <optional>
#include <poll.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <mrt/node.hpp>

#include "bindings.hpp"
#include "log_forwarder.hpp"

namespace mrt::python {
namespace {

using std::chrono::milliseconds;

[[noreturn]] void raise_node(const NodeError& e) {
  raise(errors().node, to_string(e.kind), e.message);
}

template <class T>
T value_or_raise(Result<T, NodeError> r) {
  if (!r) raise_node(r.error());
  return std::move(*r);
}

// `call(node)` with the GIL released (it may wait for the store or the homeservers); its
// Result's value, or NodeError raised once the GIL is back.
template <class Call>
auto unlocked_call(const std::shared_ptr<Node>& node, Call call) {
  auto r = [&] {
    py::gil_scoped_release unlocked;
    return call(*node);
  }();
  return value_or_raise(std::move(r));
}

Carrier to_carrier(const std::string& name) {
  if (name == "room") return Carrier::room;
  if (name == "to_device") return Carrier::to_device;
  raise(errors().node, "bad_config", "carrier is 'room' or 'to_device', not '" + name + "'");
}

std::set<Address> to_addresses(const std::vector<std::string>& texts) {
  std::set<Address> out;
  for (const auto& t : texts) out.insert(to_address(t));
  return out;
}

std::optional<std::set<Address>> to_optional_addresses(
    const std::optional<std::vector<std::string>>& texts) {
  if (!texts) return std::nullopt;
  return to_addresses(*texts);
}

// The node, until stop(): then it is destroyed, so that its store (locked while a Node lives)
// can be opened again by a new mrt.Node, and every call but the event ones refuses.
class PyNode {
 public:
  PyNode(const PrivateKey& key, NodeConfig config, const py::object& on_log) {
    if (!on_log.is_none()) {
      if (!PyCallable_Check(on_log.ptr())) throw py::type_error("on_log must be callable or None");
      log_ = std::make_unique<LogForwarder>(on_log);
      config.on_log = log_->on_log();
    }
    auto node = [&] {
      py::gil_scoped_release unlocked;  // opens (maybe creates) the store
      return Node::open(std::move(config), key);
    }();
    node_ = std::make_shared<Node>(value_or_raise(std::move(node)));
    address_ = node_->address().to_hex();
  }
  ~PyNode() { close(); }
  PyNode(const PyNode&) = delete;
  PyNode& operator=(const PyNode&) = delete;

  // The node, held by the caller for the call (stop() from another thread cannot free it
  // under a call that waits); NodeError(not_started) once stopped.
  std::shared_ptr<Node> node() const {
    auto node = node_;
    if (!node)
      raise(errors().node, to_string(NodeErrorKind::not_started),
            "this node was stopped; open a new mrt.Node on its data_dir to start again");
    return node;
  }
  std::shared_ptr<Node> node_or_null() const { return node_; }
  const std::string& address() const { return address_; }
  void close() {
    std::shared_ptr<Node> node = std::move(node_);
    if (!node) return;
    py::gil_scoped_release unlocked;  // stop() waits for the node's threads
    node->stop();  // wakes calls waiting in other threads; they hold the node until they return
    if (log_) log_->stop();  // the records of the stop included
  }

 private:
  std::unique_ptr<LogForwarder> log_;  // before node_: destroyed after it
  std::shared_ptr<Node> node_;
  std::string address_;
};

// A dict of capabilities (values str, bool, int or lists of those) through mrt's JSON form.
Capabilities to_capabilities(const py::object& caps) {
  const std::string text = py::module_::import("json").attr("dumps")(caps).cast<std::string>();
  auto read = capabilities_from_json(nlohmann::json::parse(text, nullptr, false));
  if (!read)
    raise(errors().node, to_string(NodeErrorKind::bad_config),
          "capabilities: a dict of str, bool, int or lists of those (" +
              std::string(to_string(read.error())) + ")");
  return std::move(*read);
}

py::object from_json(const nlohmann::json& j) {
  return py::module_::import("json").attr("loads")(j.dump());
}

LogLevel to_log_level(const std::string& name) {
  if (auto level = log_level_named(name)) return *level;
  raise(errors().node, "bad_config",
        "log_level is debug, info, warning or error, not '" + name + "'");
}

NodeConfig make_config(
    const std::string& homeserver, const std::filesystem::path& data_dir,
    const std::string& server_name,
    const std::vector<std::pair<std::string, std::string>>& homeservers, std::size_t homes,
    const std::vector<std::string>& known_servers, const std::string& broadcast_server,
    const std::optional<std::vector<std::string>>& broadcast_operators, const std::string& carrier,
    const std::optional<std::vector<std::string>>& allowlist,
    const std::map<std::string, std::vector<std::string>>& publishers, std::int64_t max_age_ms,
    std::int64_t resend_initial_ms, std::int64_t resend_max_ms, std::int64_t sync_timeout_ms,
    std::size_t max_outbox_per_recipient, bool durable, const py::object& capabilities,
    const std::string& log_level, bool challenge_candidates) {
  NodeConfig c;
  c.challenge_candidates = challenge_candidates;
  if (!capabilities.is_none()) c.capabilities = to_capabilities(capabilities);
  c.log_level = to_log_level(log_level);
  c.homeserver = homeserver;
  c.server_name = server_name;
  for (const auto& [url, name] : homeservers) c.homeservers.push_back({url, name});
  c.homes = homes;
  c.known_servers = known_servers;
  c.broadcast_server = broadcast_server;
  c.broadcast_operators = to_optional_addresses(broadcast_operators);
  c.data_dir = data_dir;
  c.carrier = to_carrier(carrier);
  c.limits.max_age_ms = max_age_ms;
  c.policy.allowlist = to_optional_addresses(allowlist);
  for (const auto& [topic, addresses] : publishers)
    c.policy.publishers[topic] = to_addresses(addresses);
  c.policy.max_outbox_per_recipient = max_outbox_per_recipient;
  c.resend_initial = milliseconds(resend_initial_ms);
  c.resend_max = milliseconds(resend_max_ms);
  c.sync_timeout = milliseconds(sync_timeout_ms);
  c.durability = durable ? store::Durability::full : store::Durability::off;
  return c;
}

}  // namespace

void bind_node(py::module_& m) {
  py::class_<NodeEvent>(m, "Event",
                        "Something the node reports: a message, a delivery outcome, a rejected "
                        "envelope, a reachability change, a squatted room, a store failure.")
      .def_property_readonly(
          "type", [](const NodeEvent& e) { return std::string(to_string(e.type)); },
          "message, delivered, failed, rejected, reachability, squatted or store_failed.")
      .def_readonly("id", &NodeEvent::id, "The message's nonce (the id send() returned).")
      .def_property_readonly(
          "peer",
          [](const NodeEvent& e) {
            return e.peer ? std::optional<std::string>(e.peer->to_hex()) : std::nullopt;
          },
          "The other address (sender of a message, recipient of a delivered one), or None.")
      .def_readonly("body", &NodeEvent::body, "A message's body.")
      .def_readonly("ts", &NodeEvent::ts, "The envelope's creation time (ms since the epoch).")
      .def_property_readonly(
          "carrier",
          [](const NodeEvent& e) {
            return e.carrier ? std::optional<std::string>(to_string(*e.carrier)) : std::nullopt;
          },
          "room or to_device for a unicast message; None in a broadcast room.")
      .def_readonly("topic", &NodeEvent::topic, "The broadcast topic, or None.")
      .def_property_readonly(
          "reason",
          [](const NodeEvent& e) {
            return e.reason ? std::optional<std::string>(to_string(*e.reason)) : std::nullopt;
          },
          "Why an envelope was rejected (PROTOCOL §4's RejectReason), or None.")
      .def_property_readonly(
          "reachability",
          [](const NodeEvent& e) {
            return e.reachability ? std::optional<std::string>(to_string(*e.reachability))
                                  : std::nullopt;
          },
          "reachable, unreachable or unknown for a reachability event, else None.")
      .def_readonly("detail", &NodeEvent::detail, "Why, for squatted and store_failed.")
      .def("__repr__", [](const NodeEvent& e) {
        return "Event(" + std::string(to_string(e.type)) + ", id=" + e.id +
               (e.peer ? ", peer=" + e.peer->to_hex() : "") + ")";
      });

  py::class_<PyNode>(m, "Node",
                     "A Raiden node's transport: a Matrix device logged in with the node's "
                     "Ethereum key, sending signed, end-to-end encrypted messages that are "
                     "delivered exactly once (C++: mrt::Node).")
      .def(py::init([](const PrivateKey& key, const std::string& homeserver,
                       const std::filesystem::path& data_dir, const std::string& server_name,
                       const std::vector<std::pair<std::string, std::string>>& homeservers,
                       std::size_t homes, const std::vector<std::string>& known_servers,
                       const std::string& broadcast_server,
                       const std::optional<std::vector<std::string>>& broadcast_operators,
                       const std::string& carrier,
                       const std::optional<std::vector<std::string>>& allowlist,
                       const std::map<std::string, std::vector<std::string>>& publishers,
                       std::int64_t max_age_ms, std::int64_t resend_initial_ms,
                       std::int64_t resend_max_ms, std::int64_t sync_timeout_ms,
                       std::size_t max_outbox_per_recipient, bool durable,
                       const py::object& capabilities, const py::object& on_log,
                       const std::string& log_level, bool challenge_candidates) {
             return std::make_unique<PyNode>(
                 key,
                 make_config(homeserver, data_dir, server_name, homeservers, homes, known_servers,
                             broadcast_server, broadcast_operators, carrier, allowlist,
                             publishers, max_age_ms, resend_initial_ms, resend_max_ms,
                             sync_timeout_ms, max_outbox_per_recipient, durable, capabilities,
                             log_level, challenge_candidates),
                 on_log);
           }),
           py::arg("key"), py::arg("homeserver"), py::arg("data_dir"), py::kw_only(),
           py::arg("server_name") = "",
           py::arg("homeservers") = std::vector<std::pair<std::string, std::string>>{},
           py::arg("homes") = 1, py::arg("known_servers") = std::vector<std::string>{},
           py::arg("broadcast_server") = "", py::arg("broadcast_operators") = py::none(),
           py::arg("carrier") = "room", py::arg("allowlist") = py::none(),
           py::arg("publishers") = std::map<std::string, std::vector<std::string>>{},
           py::arg("max_age_ms") = kDefaultMaxAgeMs, py::arg("resend_initial_ms") = 2000,
           py::arg("resend_max_ms") = 60000, py::arg("sync_timeout_ms") = 30000,
           py::arg("max_outbox_per_recipient") = Policy{}.max_outbox_per_recipient,
           py::arg("durable") = true, py::arg("capabilities") = py::none(),
           py::arg("on_log") = py::none(), py::arg("log_level") = "info",
           py::arg("challenge_candidates") = false,
           "Opens (or creates) the node's store in data_dir, sealed under a key derived from "
           "`key`; nothing touches the network yet. homeserver: base URL "
           "(http://127.0.0.1:8008); homeservers: more (url, server_name) pairs; homes: accounts "
           "kept at once; carrier: 'room' or 'to_device'; allowlist: the only unicast senders "
           "accepted (None: all); publishers: per topic, the only broadcast publishers; "
           "durable=False is for tests only; capabilities: Raiden's (a dict of str, bool, int or "
           "lists), published at login; on_log: called with a dict (level, component, event, "
           "fields) for each record at log_level or above, on a thread of its own (mrt.log_to "
           "makes one for a logging.Logger); challenge_candidates: a peer's user id is used only once "
           "it answered a live challenge. Raises NodeError (bad_config, store).")
      .def(
          "start",
          [](PyNode& n) {
            unlocked_call(n.node(), [&](Node& node) { return node.start(); });
          },
          "Logs in, publishes the device's keys and signed displayname, starts syncing; reports "
          "unconsumed events again and resumes the outbox. Raises NodeError (login, stopped).")
      .def(
          "stop",
          [](PyNode& n) { n.close(); },
          "Stops syncing and the node's threads (queued writes finish first) and closes its "
          "store, which a new mrt.Node may then open. Idempotent; afterwards next_event and "
          "try_next_event return None and other calls raise NodeError(not_started).")
      .def(
          "send",
          [](PyNode& n, const std::string& to, std::string body) {
            const Address address = to_address(to);
            return unlocked_call(n.node(), [&](Node& node) { return node.send(address, std::move(body)); });
          },
          py::arg("to"), py::arg("body"),
          "Signs a message to address `to`, makes it durable in the outbox and queues it; its id. "
          "The outcome comes as a delivered or failed event. Raises NodeError (not_started, "
          "too_large, outbox_full, store), AddressError.")
      .def(
          "send_many",
          [](PyNode& n, const std::string& to, std::vector<std::string> bodies) {
            const Address address = to_address(to);
            return unlocked_call(n.node(), [&](Node& node) { return node.send_many(address, std::move(bodies)); });
          },
          py::arg("to"), py::arg("bodies"),
          "send() for many bodies to one recipient with one durable write; ids in order. Raises "
          "NodeError (not_started, too_large, outbox_full, store), AddressError.")
      .def(
          "cancel",
          [](PyNode& n, const std::string& id) {
            return unlocked_call(n.node(), [&](Node& node) { return node.cancel(id); });
          },
          py::arg("id"),
          "Stops sending message `id`: True when it was waiting for its ack (no delivered or "
          "failed event follows), False when no such message waits. Raises NodeError "
          "(not_started, store: the erasure could not be written and the message goes on).")
      .def(
          "subscribe",
          [](PyNode& n, const std::string& topic) {
            return unlocked_call(n.node(), [&](Node& node) { return node.subscribe(topic); });
          },
          py::arg("topic"),
          "Joins (or creates) the broadcast room of `topic` (PROTOCOL §6); its room id. Raises "
          "NodeError (bad_topic, squatted, network).")
      .def(
          "broadcast",
          [](PyNode& n, const std::string& topic, std::string body) {
            return unlocked_call(n.node(), [&](Node& node) { return node.broadcast(topic, std::move(body)); });
          },
          py::arg("topic"), py::arg("body"),
          "Publishes a signed broadcast in the room of `topic`; its id once the homeserver took "
          "it. Raises NodeError (bad_topic, squatted, too_large, network).")
      .def(
          "watch",
          [](PyNode& n, const std::string& address) {
            const auto node = n.node();
            value_or_raise(node->watch(to_address(address)));
          },
          py::arg("address"),
          "Prepares for a partner before the first message: its user ids, the DM room, its "
          "reachability (then reported by events). Returns at once. Raises NodeError "
          "(not_started), AddressError.")
      .def(
          "discover",
          [](PyNode& n, const std::string& address) {
            const Address a = to_address(address);
            return unlocked_call(n.node(), [&](Node& node) { return node.discover(a); });
          },
          py::arg("address"),
          "The user ids of `address` that the homeservers know and whose displayname proves "
          "them (PROTOCOL §2, §8). Raises NodeError (network, not_started), AddressError.")
      .def(
          "add_user_ids",
          [](PyNode& n, const std::string& address, const std::vector<std::string>& ids) {
            const auto node = n.node();
            value_or_raise(node->add_user_ids(to_address(address), ids));
          },
          py::arg("address"), py::arg("user_ids"),
          "User ids the application knows for `address` (a Pathfinding Service's metadata); "
          "each is used once its displayname proves it. Raises NodeError (bad_user_id).")
      .def(
          "add_metadata",
          [](PyNode& n, const std::string& address, const py::dict& metadata) {
            const auto node = n.node();
            const auto field = [&](const char* name) {
              if (!metadata.contains(name)) return std::string();
              if (!py::isinstance<py::str>(metadata[name]))
                throw py::type_error(std::string("metadata['") + name + "'] must be a str");
              return metadata[name].cast<std::string>();
            };
            value_or_raise(node->add_metadata(
                to_address(address),
                {.user_id = field("user_id"), .displayname = field("displayname")}));
          },
          py::arg("address"), py::arg("metadata"),
          "A peer's address metadata as Raiden's Pathfinding Service hands it out (user_id, "
          "displayname; other keys ignored): an id its displayname proves is validated at once, "
          "no homeserver asked. Raises NodeError (bad_user_id: not the address's id, or a "
          "displayname that does not prove it; not_started), AddressError.")
      .def(
          "challenge",
          [](PyNode& n, const std::string& address, const std::string& user_id, double timeout) {
            const Address a = to_address(address);
            const auto wait = milliseconds(static_cast<std::int64_t>(timeout * 1000));
            unlocked_call(n.node(), [&](Node& node) { return node.challenge(a, user_id, wait); });
          },
          py::arg("address"), py::arg("user_id"), py::arg("timeout") = 10.0,
          "Sends `user_id` a live challenge and returns once it answered with a signature of "
          "`address`'s key (docs/protocol.md, Live challenge). Raises NodeError "
          "(challenge_failed: no valid answer within `timeout` seconds; bad_user_id: not "
          "@address:server; not_started), AddressError.")
      .def(
          "evidence",
          [](PyNode& n, const std::string& topic) {
            return value_or_raise(n.node()->evidence(topic));
          },
          py::arg("topic"),
          "The events room's envelopes (topic raiden_<chain>_events_<operator>) this node "
          "accepted from the operator, oldest first, each the signed envelope's JSON text: "
          "evidence anyone can check with validate_envelope. Kept after they are consumed and "
          "across restarts. Raises NodeError (bad_topic: not an events topic; not_started once "
          "stopped).")
      .def(
          "metadata",
          [](PyNode& n) {
            return from_json(to_json(value_or_raise(n.node()->metadata())));
          },
          "The node's own address metadata, as Raiden's services hand it out: a dict of user_id, "
          "displayname (the address's signature over the user id) and capabilities (the "
          "mxc://raiden.network/cap?... URL). Raises NodeError (not_started).")
      .def(
          "capabilities_of",
          [](PyNode& n, const std::string& address) {
            const Address a = to_address(address);
            return from_json(capabilities_to_json(
                unlocked_call(n.node(), [&](Node& node) { return node.capabilities_of(a); })));
          },
          py::arg("address"),
          "A peer's capabilities, read from its profile (the avatar_url of its first validated "
          "user id that answers): a dict of str (a repeated key: a list); {} when it published "
          "none. Raises NodeError (network: no user id known, or no answer; not_started), "
          "AddressError.")
      .def(
          "set_capabilities",
          [](PyNode& n, const py::object& capabilities) {
            Capabilities caps = to_capabilities(capabilities);
            unlocked_call(n.node(),
                          [&](Node& node) { return node.set_capabilities(caps); });
          },
          py::arg("capabilities"),
          "Publishes Raiden's capabilities (a dict of str, bool, int or lists of those) on every "
          "home at once, and at every later login. Raises NodeError (bad_config, network, "
          "not_started).")
      .def(
          "reachability",
          [](PyNode& n, const std::string& address) {
            const auto node = n.node();
            const Address a = to_address(address);
            py::gil_scoped_release unlocked;
            return std::string(to_string(node->reachability(a)));
          },
          py::arg("address"),
          "reachable, unreachable or unknown (waits at most 10 s). Raises NodeError "
          "(not_started once stopped), AddressError.")
      .def(
          "set_allowlist",
          [](PyNode& n, const std::optional<std::vector<std::string>>& addresses) {
            const auto node = n.node();
            node->set_allowlist(to_optional_addresses(addresses));
          },
          py::arg("addresses"),
          "The only unicast senders accepted from now on (None: every sender). Raises NodeError "
          "(not_started once stopped), AddressError.")
      .def(
          "set_publishers",
          [](PyNode& n, const std::string& topic,
             const std::optional<std::vector<std::string>>& addresses) {
            const auto node = n.node();
            value_or_raise(node->set_publishers(topic, to_optional_addresses(addresses)));
          },
          py::arg("topic"), py::arg("addresses"),
          "The only publishers accepted in the room of `topic` (None: every publisher). Raises "
          "NodeError (bad_topic, not_started once stopped), AddressError.")
      .def(
          "next_event",
          [](PyNode& n, std::optional<double> timeout) -> std::optional<NodeEvent> {
            const auto node = n.node_or_null();
            if (!node) return std::nullopt;
            // None: wait until an event comes or the node stops, in slices so that Ctrl-C works.
            const auto slice = milliseconds(200);
            for (;;) {
              const auto wait = timeout ? milliseconds(static_cast<std::int64_t>(*timeout * 1000))
                                        : slice;
              auto e = [&] {
                py::gil_scoped_release unlocked;
                return node->next_event(wait);
              }();
              if (e || timeout) return e;
              // Readable with nothing to take: the node stopped (event_fd's contract).
              pollfd fd{.fd = node->event_fd(), .events = POLLIN, .revents = 0};
              if (::poll(&fd, 1, 0) == 1) {
                return node->try_next_event();
              }
              if (PyErr_CheckSignals() != 0) throw py::error_already_set();
            }
          },
          py::arg("timeout") = py::none(),
          "The next event, waiting at most `timeout` seconds (None: until one comes or the node "
          "stops); None on timeout and once the node stopped.")
      .def(
          "try_next_event",
          [](PyNode& n) {
            const auto node = n.node_or_null();
            return node ? node->try_next_event() : std::optional<NodeEvent>();
          },
          "The next event if one waits, else None; never blocks.")
      .def(
          "event_fd", [](PyNode& n) { return n.node()->event_fd(); },
          "A descriptor to poll for reading (loop.add_reader, gevent's wait_read): readable "
          "while an event waits. Never read or close it; it closes with stop(). Raises NodeError "
          "(not_started once stopped).")
      .def(
          "consumed",
          [](PyNode& n, const NodeEvent& e) {
            const auto node = n.node();
            py::gil_scoped_release unlocked;
            node->consumed(e);
          },
          py::arg("event"),
          "Marks a message, delivered or failed event handled: it is not reported again after "
          "a restart. Raises NodeError (not_started once stopped).")
      .def(
          "stats", [](PyNode& n) { return from_json(to_json(n.node()->stats())); },
          "The node's counters (sent, delivered, received, rejected by reason, outbox, ...). "
          "Raises NodeError (not_started once stopped).")
      .def_property_readonly(
          "address", [](PyNode& n) { return n.address(); },
          "The node's address (wire form).")
      .def_property_readonly(
          "user_id", [](PyNode& n) { return n.node()->user_id(); },
          "The fastest home's Matrix user id; empty before start().")
      .def_property_readonly(
          "device_id", [](PyNode& n) { return n.node()->device_id(); },
          "The Matrix device id; empty before the first start().")
      .def(
          "homes",
          [](PyNode& n) {
            const auto node = n.node();
            py::list out;
            for (const auto& h : node->homes()) {
              py::dict d;
              d["url"] = h.url;
              d["server_name"] = h.server_name;
              d["user_id"] = h.user_id;
              d["device_id"] = h.device_id;
              d["rtt_ms"] = h.rtt_ms;
              out.append(d);
            }
            return out;
          },
          "The homeservers in use, fastest first: dicts of url, server_name, user_id, device_id, "
          "rtt_ms. Raises NodeError (not_started once stopped).");
}

}  // namespace mrt::python
