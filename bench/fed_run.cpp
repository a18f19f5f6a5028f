// One setup of the federation benchmark (fed_bench.hpp, run_setup): the raw homeserver path and
// mrt nodes on the same servers, their latency series taking turns block by block, then first
// contacts.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include <mrt/node.hpp>

#include "fed_bench.hpp"
#include "net_bench.hpp"
#include "net_receipts.hpp"
#include "transport/dm_room.hpp"

namespace mrt::bench::fed {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::ostream& progress() {
  return std::cerr << "[federation_bench] ";
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string durability_name(store::Durability d) {
  return d == store::Durability::full ? "full" : "off";
}

double server_cpu(const Server& s) {
  return s.pid > 0 ? cpu_seconds_of(s.pid) : 0;
}

json stats_json(const NodeStats& s) {
  std::uint64_t rejected = 0;
  for (const auto& [reason, n] : s.rejected) rejected += n;
  return {{"sent", s.sent},
          {"transmitted", s.transmitted},
          {"resent", s.resent},
          {"payloads", s.payloads},
          {"delivered", s.delivered},
          {"received", s.received},
          {"acks_sent", s.acks_sent},
          {"rejected", rejected},
          {"undecryptable", s.undecryptable},
          {"syncs", s.syncs},
          {"relogins", s.relogins},
          {"http_retries", s.http_retries},
          {"id_lookups", s.id_lookups},
          {"id_lookups_failed", s.id_lookups_failed},
          {"ids_refused", s.ids_refused}};
}

// ---- mrt: two nodes -------------------------------------------------------------------------

struct Trip {
  double message_ms;    // send() -> `message` at the peer
  double delivered_ms;  // send() -> `delivered` at the sender
  std::optional<Carrier> carrier;
  Clock::time_point sent;      // when send() was called
  Clock::time_point received;  // when the `message` event came
};

// Node 0 on server a, node 1 on server b, fresh keys (node 0's address lower or higher as asked),
// stores under `dir`; started together.
class MrtPair {
 public:
  MrtPair(const Server& a, const Server& b, const std::vector<std::string>& known, Carrier carrier,
          store::Durability durability, const fs::path& dir, std::optional<bool> a_is_lower,
          std::chrono::milliseconds patience)
      : patience_(patience) {
    PrivateKey ka = PrivateKey::generate(), kb = PrivateKey::generate();
    while (a_is_lower && (ka.address() < kb.address()) != *a_is_lower) kb = PrivateKey::generate();
    std::string failure[2];
    std::thread starting[2];
    for (int i = 0; i < 2; ++i) {
      const Server& s = i == 0 ? a : b;
      NodeConfig c;
      c.homeserver = s.url;
      c.server_name = s.name;
      c.known_servers = known;
      c.data_dir = dir / (i == 0 ? "a" : "b");
      c.carrier = carrier;
      c.durability = durability;
      c.on_event = [this, i](const NodeEvent& e) {
        const auto at = Clock::now();
        receipts_.add(static_cast<std::size_t>(i), e, at);
      };
      starting[i] =
          std::thread([this, i, c = std::move(c), key = (i == 0 ? ka : kb).clone(), &failure] {
            auto node = Node::open(c, key);
            if (!node) {
              failure[i] = node.error().message;
            } else if (auto started = node->start(); !started) {
              failure[i] = started.error().message;
            } else {
              nodes_[i] = std::make_unique<Node>(std::move(*node));
            }
          });
    }
    for (auto& t : starting) t.join();
    for (int i = 0; i < 2; ++i)
      if (!failure[i].empty())
        throw std::runtime_error("node " + std::to_string(i) + " did not start: " + failure[i]);
  }
  ~MrtPair() {
    std::thread stopping([this] { nodes_[1]->stop(); });
    nodes_[0]->stop();
    stopping.join();
  }
  MrtPair(const MrtPair&) = delete;
  MrtPair& operator=(const MrtPair&) = delete;

  Node& node(std::size_t i) { return *nodes_[i]; }
  std::size_t rejected_or_failed() { return receipts_.rejected_or_failed(); }

  // One message from node `from` to the other, finished by its arrival (its `delivered` comes
  // later, and may ride with the answer); `id` gets its id.
  Trip arrive(std::size_t from, const std::string& body, std::string* id = nullptr) {
    const std::size_t to = 1 - from;
    const auto t0 = Clock::now();
    auto sent = node(from).send(node(to).address(), body);
    if (!sent) throw std::runtime_error("send: " + sent.error().message);
    if (id) *id = *sent;
    const Receipt got = receipts_.wait(Receipts::message_key(body), 1, patience_).front();
    if (got.node != to) throw std::runtime_error("a message arrived at its sender");
    return {ms_between(t0, got.at), 0, got.carrier, t0, got.at};
  }

  // The same, finished by its `delivered`.
  Trip exchange(std::size_t from, const std::string& body) {
    std::string id;
    Trip trip = arrive(from, body, &id);
    const Receipt acked = receipts_.wait(Receipts::delivered_key(id), 1, patience_).front();
    trip.delivered_ms = ms_between(trip.sent, acked.at);
    return trip;
  }

  // PROTOCOL §5: messages one way then the other (each finished by its `delivered`) until both
  // arrive over the DM room; the time from `t0` to the receipt that completed it, and how many
  // messages it took.
  std::pair<double, std::size_t> until_room_both_ways(Clock::time_point t0,
                                                      const std::string& tag) {
    const auto deadline = Clock::now() + patience_;
    for (std::size_t round = 0;; ++round) {
      const std::string b = tag + "-room-" + std::to_string(round);
      const Trip ab = exchange(0, b + "a");
      const Trip ba = exchange(1, b + "b");
      if (ab.carrier == Carrier::room && ba.carrier == Carrier::room)
        return {ms_between(t0, ba.received), 2 * (round + 1)};
      if (Clock::now() > deadline) throw std::runtime_error("the DM room was not in use in time");
    }
  }

  json stats() { return json::array({stats_json(node(0).stats()), stats_json(node(1).stats())}); }

 private:
  std::chrono::milliseconds patience_;
  Receipts receipts_;
  std::unique_ptr<Node> nodes_[2];
};

// ---- a latency series ------------------------------------------------------------------------

// What one series measured at one gap.
struct Tally {
  std::size_t done = 0;
  std::vector<double> ms;     // the latency
  std::vector<double> other;  // raw: the send call's answer; mrt: `delivered`
  std::size_t wrong_carrier = 0;
  double cpu = 0, cpu_a = 0, cpu_b = 0;  // this process's, server a's, server b's (seconds)
};

// One path on one carrier (raw, or mrt at one durability): sample(i, tally) sends message i
// (its direction: i % 2) and records it in `tally` (nullptr: warm-up, not recorded).
struct Series {
  std::string path;  // "raw" or "mrt"
  Carrier carrier;
  std::string event_type;                       // raw only
  std::optional<store::Durability> durability;  // mrt only
  bool at_once = false;                         // mrt only: RunOptions::mrt_paces
  MrtPair* pair = nullptr;
  std::function<void(std::size_t i, Tally* tally)> sample;
  std::size_t next = 0;  // the next message's index: markers and bodies stay unique

  std::string label() const {
    return path + " " + std::string(to_string(carrier)) +
           (durability
                ? " durability " + durability_name(*durability) + (at_once ? " at-once" : " acked")
                : " " + event_type);
  }
};

json rounded(const std::vector<double>& v) {
  json out = json::array();
  for (double x : v) out.push_back(std::round(x * 10) / 10);
  return out;
}

json series_json(const Series& s, const Tally& t, bool two_servers, std::int64_t gap_ms) {
  const double n = static_cast<double>(std::max<std::size_t>(t.ms.size(), 1));
  json j = {{"path", s.path},
            {"carrier", to_string(s.carrier)},
            {"gap_ms", gap_ms},
            {"samples", t.ms.size()},
            {"p50_ms", round3(percentile(t.ms, 0.5))},
            {"p90_ms", round3(percentile(t.ms, 0.9))},
            {"max_ms", round3(percentile(t.ms, 1.0))},
            {"min_ms", round3(t.ms.empty() ? 0 : *std::min_element(t.ms.begin(), t.ms.end()))},
            {"process_cpu_us_per_msg", round3(t.cpu * 1e6 / n)},
            {"server_a_cpu_us_per_msg", round3(t.cpu_a * 1e6 / n)},
            {"samples_ms", rounded(t.ms)}};
  if (two_servers) j["server_b_cpu_us_per_msg"] = round3(t.cpu_b * 1e6 / n);
  if (s.path == "raw") {
    j["event_type"] = s.event_type;
    j["send_call_p50_ms"] = round3(percentile(t.other, 0.5));
  } else {
    j["durability"] = durability_name(*s.durability);
    j["pace"] = s.at_once ? "at-once" : "acked";
    if (!s.at_once) {
      j["delivered_p50_ms"] = round3(percentile(t.other, 0.5));
      j["delivered_p90_ms"] = round3(percentile(t.other, 0.9));
    }
    j["wrong_carrier"] = t.wrong_carrier;
    j["rejected_or_failed"] = s.pair->rejected_or_failed();
    j["node_stats"] = s.pair->stats();  // since the nodes started
  }
  return j;
}

// ---- the raw path -----------------------------------------------------------------------------

// Sends marker `marker` from `from` to `to` (a to-device event to its device, or an event into
// `room`) of type `type` and `bytes` bytes; the time until `to`'s sync loop had it, and until the
// send call returned.
std::pair<double, double> raw_send(RawUser& from, RawUser& to, Carrier carrier,
                                   const std::string& type, const std::string& room,
                                   const std::string& marker, std::size_t bytes,
                                   std::chrono::milliseconds patience) {
  const json content = padded_content(marker, bytes);
  const auto t0 = Clock::now();
  const auto r = carrier == Carrier::to_device
                     ? from.client()
                           .send_to_device(type, transport::new_transaction_id(),
                                           json{{to.user_id(), {{to.device_id(), content}}}})
                           .get()
                     : from.client()
                           .send_room_event(room, type, transport::new_transaction_id(), content)
                           .get();
  const auto answered = Clock::now();
  if (!r) throw std::runtime_error("raw send: " + transport::describe(r.error()));
  const auto seen =
      to.wait((carrier == Carrier::to_device ? "td:" : "rm:") + marker, t0 + patience);
  return {ms_between(t0, seen), ms_between(t0, answered)};
}

std::string room_id_of(const transport::MatrixResult& r) {
  if (!r || !r->contains("room_id") || !(*r)["room_id"].is_string())
    throw std::runtime_error("createRoom: " +
                             (r ? std::string("no room_id") : transport::describe(r.error())));
  return (*r)["room_id"].get<std::string>();
}

// A raw first contact: fresh users; createRoom with the invite (mrt's DM room body) -> the
// invitee's sync sees the invite -> it joins -> the creator's sync sees the join -> the creator
// sends the first event -> the invitee's sync has it.
json raw_first_contact(const Server& a, const Server& b, std::size_t bytes, const std::string& tag,
                       std::chrono::milliseconds patience) {
  RawUser ua(a, "first-contact A"), ub(b, "first-contact B");
  ua.start_sync();
  ub.start_sync();
  const bool a_lower = ua.address() < ub.address();
  const json body = transport::dm_room_create_body(
      a_lower ? ua.address() : ub.address(), a_lower ? ub.address() : ua.address(), {ub.user_id()});
  const auto t0 = Clock::now();
  const auto deadline = t0 + patience;
  const std::string room = room_id_of(ua.client().create_room(body).get());
  const auto created = Clock::now();
  const auto invited = ub.wait("invite:" + room, deadline);
  const auto joined_r = ub.client().join(room).get();
  const auto joined = Clock::now();
  if (!joined_r) throw std::runtime_error("join: " + transport::describe(joined_r.error()));
  const auto join_seen = ua.wait("join:" + room + " " + ub.user_id(), deadline);
  const std::string marker = tag + "-first";
  const auto sent = Clock::now();
  const auto r = ua.client()
                     .send_room_event(room, kRawEventType, transport::new_transaction_id(),
                                      padded_content(marker, bytes))
                     .get();
  if (!r) throw std::runtime_error("raw send: " + transport::describe(r.error()));
  const auto received = ub.wait("rm:" + marker, deadline);
  return {{"create_room_ms", round3(ms_between(t0, created))},
          {"invite_seen_ms", round3(ms_between(t0, invited))},
          {"create_invite_join_ms", round3(ms_between(t0, joined))},
          {"join_seen_by_creator_ms", round3(ms_between(t0, join_seen))},
          {"first_event_ms", round3(ms_between(t0, received))},
          {"first_event_one_way_ms", round3(ms_between(sent, received))},
          {"room_id", room}};
}

// An mrt first contact: fresh nodes (room carrier, durability full), no cached id, no room:
// send() -> `message` at the peer (over to_device, PROTOCOL §5), its `delivered`, and the time
// until the DM room carries messages both ways.
json mrt_first_contact(const Server& a, const Server& b, const std::vector<std::string>& known,
                       const fs::path& dir, bool a_is_lower, std::size_t body_bytes,
                       const std::string& tag, std::chrono::milliseconds patience) {
  const auto t_start = Clock::now();
  MrtPair pair(a, b, known, Carrier::room, store::Durability::full, dir, a_is_lower, patience);
  const double start_ms = ms_between(t_start, Clock::now());
  const auto t0 = Clock::now();
  const Trip first = pair.exchange(0, body_of(tag + "-first", body_bytes));
  const auto [room_ms, messages] = pair.until_room_both_ways(t0, tag);
  return {{"nodes_start_ms", round3(start_ms)},
          {"sender_is_lower", a_is_lower},
          {"message_ms", round3(first.message_ms)},
          {"delivered_ms", round3(first.delivered_ms)},
          {"first_carrier", first.carrier ? to_string(*first.carrier) : "?"},
          {"room_both_ways_ms", round3(room_ms)},
          {"messages_until_room", messages},
          {"rejected_or_failed", pair.rejected_or_failed()},
          {"node_stats", pair.stats()}};
}

double median_of(const json& rows, const char* field) {
  std::vector<double> v;
  for (const auto& r : rows) v.push_back(r.at(field).get<double>());
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

json run_setup(const std::string& name, const Server& a, const Server& b,
               const std::vector<std::string>& known, const RunOptions& o) {
  const bool two = a.name != b.name;
  json out = {
      {"setup", name}, {"server_a", a.name}, {"server_b", b.name}, {"load_start", load_average()}};
  progress() << name << ": raw users\n";
  RawUser ra(a, "A"), rb(b, "B");
  ra.start_sync();
  rb.start_sync();
  const auto deadline = Clock::now() + o.patience;
  const bool ra_lower = ra.address() < rb.address();
  const std::string raw_room =
      room_id_of(ra.client()
                     .create_room(transport::dm_room_create_body(
                         ra_lower ? ra.address() : rb.address(),
                         ra_lower ? rb.address() : ra.address(), {rb.user_id()}))
                     .get());
  rb.wait("invite:" + raw_room, deadline);
  if (auto j = rb.client().join(raw_room).get(); !j)
    throw std::runtime_error("raw join: " + transport::describe(j.error()));
  ra.wait("join:" + raw_room + " " + rb.user_id(), deadline);

  // mrt's payload sizes, with the ids of these servers (device ids as Synapse makes them).
  const PayloadSizes sizes = mrt_payload_sizes({.server_a = a.name,
                                                .device_a = ra.device_id(),
                                                .server_b = b.name,
                                                .device_b = rb.device_id(),
                                                .room_id = raw_room},
                                               o.body_bytes, o.root / (name + "-sizes"));
  out["payload_bytes"] = {{"body", o.body_bytes},
                          {"envelope", sizes.envelope},
                          {"to_device", sizes.to_device},
                          {"to_device_prekey", sizes.to_device_prekey},
                          {"room", sizes.room}};
  progress() << name << ": mrt payloads " << sizes.to_device << " B to-device (pre-key "
             << sizes.to_device_prekey << "), " << sizes.room << " B room\n";

  // The latency series: per carrier, the raw path and mrt per durability, taking turns; for each
  // gap (a pause before every message) in turn.
  json latency = json::array();
  for (const Carrier carrier : o.carriers) {
    const std::string c = std::string(to_string(carrier));
    const std::size_t bytes = carrier == Carrier::to_device ? sizes.to_device : sizes.room;
    std::vector<std::unique_ptr<MrtPair>> pairs;
    std::vector<Series> series;
    // The raw room path once per event type: Synapse treats m.room.encrypted apart (push rules).
    const std::vector<std::string> raw_types =
        carrier == Carrier::room ? o.raw_room_types : std::vector<std::string>{kRawEventType};
    series.reserve(raw_types.size() + o.durabilities.size());  // the samplers point into it
    for (const auto& type : raw_types) {
      series.push_back({.path = "raw", .carrier = carrier, .event_type = type});
      series.back().sample = [&, c, bytes, type](std::size_t i, Tally* t) {
        const bool forth = i % 2 == 0;
        const auto [ms, call] =
            raw_send(forth ? ra : rb, forth ? rb : ra, carrier, type, raw_room,
                     name + "-" + c + "-" + type + "-" + std::to_string(i), bytes, o.patience);
        if (!t) return;
        t->ms.push_back(ms);
        t->other.push_back(call);
      };
    }
    for (const auto d : o.durabilities) {
      for (const auto& pace : o.mrt_paces) {
        const bool at_once = pace == "at-once";
        const std::string tag = name + "-" + c + "-" + durability_name(d) + "-" + pace;
        progress() << name << ": mrt nodes, " << c << ", durability " << durability_name(d) << ", "
                   << pace << "\n";
        const auto t0 = Clock::now();
        pairs.push_back(std::make_unique<MrtPair>(a, b, known, carrier, d, o.root / tag,
                                                  std::nullopt, o.patience));
        MrtPair* pair = pairs.back().get();
        json setup = {{"carrier", c},
                      {"durability", durability_name(d)},
                      {"pace", pace},
                      {"nodes_start_ms", round3(ms_between(t0, Clock::now()))}};
        if (carrier == Carrier::room) {
          const auto [ms, messages] = pair->until_room_both_ways(Clock::now(), tag);
          setup["room_both_ways_ms"] = round3(ms);
          setup["messages_until_room"] = messages;
        }
        out["mrt_setup"].push_back(setup);
        series.push_back(
            {.path = "mrt", .carrier = carrier, .durability = d, .at_once = at_once, .pair = pair});
        series.back().sample = [&o, pair, tag, carrier, at_once](std::size_t i, Tally* t) {
          const std::string body = body_of(tag + "-" + std::to_string(i), o.body_bytes);
          const Trip trip = at_once ? pair->arrive(i % 2, body) : pair->exchange(i % 2, body);
          if (!t) return;
          t->ms.push_back(trip.message_ms);
          if (!at_once) t->other.push_back(trip.delivered_ms);
          if (trip.carrier != carrier) ++t->wrong_carrier;
        };
      }
    }
    for (auto& s : series) {
      progress() << name << ": warm-up, " << s.label() << "\n";
      for (std::size_t i = 0; i < o.warmup; ++i) s.sample(s.next++, nullptr);
    }
    for (const auto gap : o.gaps) {
      const std::size_t block = gap.count() > 0 ? o.gap_block : o.block;
      progress() << name << ": measuring " << c << ", gap " << gap.count() << " ms, "
                 << series.size() << " series of " << o.samples << " in turns of " << block << "\n";
      std::vector<Tally> tallies(series.size());
      for (bool more = true; more;) {
        more = false;
        for (std::size_t k = 0; k < series.size(); ++k) {
          Series& s = series[k];
          Tally& t = tallies[k];
          const std::size_t n = std::min(block, o.samples - t.done);
          if (n == 0) continue;
          const double cpu0 = process_cpu_seconds(), a0 = server_cpu(a), b0 = server_cpu(b);
          for (std::size_t m = 0; m < n; ++m, ++t.done) {
            if (gap.count() > 0) std::this_thread::sleep_for(gap);
            s.sample(s.next++, &t);
          }
          t.cpu += process_cpu_seconds() - cpu0;
          t.cpu_a += server_cpu(a) - a0;
          if (two) t.cpu_b += server_cpu(b) - b0;
          more = more || t.done < o.samples;
        }
      }
      for (std::size_t k = 0; k < series.size(); ++k)
        latency.push_back(series_json(series[k], tallies[k], two, gap.count()));
    }
  }
  out["latency"] = latency;

  // First contacts: raw and mrt in turns, fresh users and nodes each time; mrt's sender is the
  // lower address (it creates the DM room) in the even rounds, the higher one in the odd.
  json raw_fc = json::array(), mrt_fc = json::array();
  for (std::size_t r = 0; r < o.first_contacts; ++r) {
    progress() << name << ": first contact " << r + 1 << "/" << o.first_contacts << "\n";
    const std::string tag = name + "-fc" + std::to_string(r);
    raw_fc.push_back(raw_first_contact(a, b, sizes.room, tag, o.patience));
    mrt_fc.push_back(
        mrt_first_contact(a, b, known, o.root / tag, r % 2 == 0, o.body_bytes, tag, o.patience));
  }
  out["first_contact"] = {
      {"raw", raw_fc},
      {"mrt", mrt_fc},
      {"raw_create_invite_join_median_ms", round3(median_of(raw_fc, "create_invite_join_ms"))},
      {"raw_first_event_median_ms", round3(median_of(raw_fc, "first_event_ms"))},
      {"mrt_message_median_ms", round3(median_of(mrt_fc, "message_ms"))},
      {"mrt_room_both_ways_median_ms", round3(median_of(mrt_fc, "room_both_ways_ms"))}};
  out["raw_syncs"] = {ra.syncs(), rb.syncs()};
  out["load_end"] = load_average();
  return out;
}

}  // namespace mrt::bench::fed
