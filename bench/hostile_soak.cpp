// What a hostile network costs a node (issue 17, docs/benchmarks.md "Hostile network"): two
// honest mrt::Node in this process (A sends to B, room carrier) on one `mrt serve` child (rate
// limits lifted, so that the attacker is not slowed), and an attacker in a child process of this
// program (so that its memory is not counted) that runs one attack at a time against B, at ten
// times the sizes issue 17 measured:
//   - replay:     100,000 copies of one signed envelope, 100 to a to-device payload (row 7: a
//                 payload under the 64 KiB Olm message cap, so that each copy is verified);
//   - sessions:   20,000 Olm pre-key messages, each from a fresh Curve25519 key, from one
//                 Matrix account with no attestation for its keys (row 2);
//   - room_keys:  30,000 m.room_key for made-up rooms from an attested device (row 3);
//   - sybils:     400 fresh addresses above B's, each sending B one envelope (row 4);
//   - oversized:  180 to-device messages of 1 MB from one unattested account (row 1: while B was
//                 down they would keep its /sync answers over the cap; here B is up, so each
//                 answer holds a few, dropped as they stream in).
// During each attack A keeps sending B one message at a time (send -> B's `message` event,
// then A's `delivered`); afterwards: the honest latency p50/p99 against the quiet one measured
// before, B's store growth (its data file), this process's RSS growth (A and B), lost and
// duplicated honest messages, and B's counters. One JSON object per line; exit 1 when an honest
// message was lost or delivered twice.
//
//   mrt_hostile_soak [--attacks replay,sessions,room_keys,sybils,oversized] [--scale 1.0]
//                    [--dir /tmp]
//   (--scale multiplies every attack's size: 0.01 for a quick look)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/envelope.hpp>
#include <mrt/megolm.hpp>
#include <mrt/node.hpp>
#include <mrt/olm.hpp>

#include "bench/net_bench.hpp"
#include "testing/raw_peer.hpp"
#include "testing/server_process.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr const char* kServerName = "localhost";

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

// ---- the attacker (a child process) ---------------------------------------------------------

struct Target {
  std::string url, user_id, device_id;
  mrt::Address address;
};

void attack_replay(const Target& t, const fs::path& dir, std::size_t copies) {
  const mrt::PrivateKey eve_key = mrt::PrivateKey::generate();
  mrt::testing::RawPeer eve(t.url, kServerName, eve_key, dir / "eve");
  const json e = mrt::Envelope::message(eve_key, t.address, "again", wall_ms()).to_json();
  for (std::size_t sent = 0; sent < copies;) {
    const std::size_t n = std::min<std::size_t>(100, copies - sent);
    eve.send_to_device(t.user_id, {{"envelopes", json(std::vector<json>(n, e))}});
    sent += n;
  }
}

void attack_sessions(const Target& t, const fs::path& dir, std::size_t count) {
  mrt::testing::RawPeer eve(t.url, kServerName, mrt::PrivateKey::generate(), dir / "eve");
  auto query = eve.request("POST", "/_matrix/client/v3/keys/query",
                           {{"device_keys", {{t.user_id, json::array()}}}});
  if (!query) throw std::runtime_error("keys/query failed");
  const std::string node_curve = (*query)["device_keys"][t.user_id][t.device_id]["keys"]
                                     .at("curve25519:" + t.device_id)
                                     .get<std::string>();
  for (std::size_t i = 0; i < count; ++i) {
    auto claim =
        eve.request("POST", "/_matrix/client/v3/keys/claim",
                    {{"one_time_keys", {{t.user_id, {{t.device_id, "signed_curve25519"}}}}}});
    if (!claim) throw std::runtime_error("keys/claim failed");
    const json& keys = (*claim)["one_time_keys"][t.user_id][t.device_id];
    if (!keys.is_object() || keys.empty()) throw std::runtime_error("no key to claim");
    const auto account = mrt::OlmAccount::create();  // a fresh sender key each time
    auto session =
        mrt::OlmSession::outbound(account, node_curve, keys.begin()->at("key").get<std::string>());
    if (!session) throw std::runtime_error("outbound session");
    const mrt::OlmMessage m = session->encrypt(mrt::as_bytes(std::string("{}")));
    const json content = {
        {"algorithm", mrt::kOlmAlgorithm},
        {"sender_key", account.identity_keys().curve25519},
        {"ciphertext", {{node_curve, {{"type", static_cast<int>(m.type)}, {"body", m.body}}}}}};
    auto r = eve.call(mrt::transport::calls::send_to_device(
        "m.room.encrypted", mrt::transport::new_transaction_id(),
        {{t.user_id, {{t.device_id, content}}}}));
    if (!r) throw std::runtime_error("sendToDevice failed");
  }
}

void attack_room_keys(const Target& t, const fs::path& dir, std::size_t count) {
  mrt::testing::RawPeer eve(t.url, kServerName, mrt::PrivateKey::generate(), dir / "eve");
  for (std::size_t i = 0; i < count; ++i) {
    const auto session = mrt::MegolmOutboundSession::create();
    const mrt::SecretBuffer key = session.session_key();
    eve.send_to_device(t.user_id,
                       {{"algorithm", mrt::kMegolmAlgorithm},
                        {"room_id", "!made-up-" + std::to_string(i) + ":" + kServerName},
                        {"session_id", session.session_id()},
                        {"session_key", std::string(mrt::as_chars(key.view()))}},
                       "m.room_key");
  }
}

void attack_oversized(const Target& t, const fs::path& dir, std::size_t count) {
  mrt::testing::RawPeer eve(t.url, kServerName, mrt::PrivateKey::generate(), dir / "eve");
  const json junk = {{"pad", std::string(1'000'000, 'x')}};
  for (std::size_t i = 0; i < count; ++i) {
    auto r = eve.call(mrt::transport::calls::send_to_device("m.raiden.junk",
                                                            mrt::transport::new_transaction_id(),
                                                            {{t.user_id, {{t.device_id, junk}}}}));
    if (!r) throw std::runtime_error("sendToDevice failed");
  }
}

void attack_sybils(const Target& t, const fs::path& dir, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    mrt::PrivateKey key = mrt::PrivateKey::generate();
    while (!(t.address < key.address())) key = mrt::PrivateKey::generate();  // B creates the room
    mrt::testing::RawPeer sybil(t.url, kServerName, key, dir / ("s" + std::to_string(i)));
    sybil.send_to_device(
        t.user_id,
        {{"envelopes", {mrt::Envelope::message(key, t.address, "hi", wall_ms()).to_json()}}});
    fs::remove_all(dir / ("s" + std::to_string(i)));
  }
}

int run_attack(const std::string& attack, std::size_t size, const Target& t, const fs::path& dir) {
  try {
    if (attack == "replay") attack_replay(t, dir, size);
    if (attack == "sessions") attack_sessions(t, dir, size);
    if (attack == "room_keys") attack_room_keys(t, dir, size);
    if (attack == "sybils") attack_sybils(t, dir, size);
    if (attack == "oversized") attack_oversized(t, dir, size);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "attacker (" << attack << "): " << e.what() << "\n";
    return 2;
  }
}

// ---- the honest side -------------------------------------------------------------------------

// VmRSS of this process (bench/net_measure.cpp reads it in KiB, as MiB).
std::int64_t rss_bytes() {
  return std::llround(mrt::bench::rss_mib_of(0) * 1024 * 1024);
}

std::uintmax_t dir_bytes(const fs::path& dir) {
  std::uintmax_t n = 0;
  for (const auto& f : fs::recursive_directory_iterator(dir))
    if (f.is_regular_file()) n += f.file_size();
  return n;
}

class HonestPair {
 public:
  HonestPair(const std::string& url, const fs::path& root) : root_(root) {
    a_.emplace(open(url, "a"));
    b_.emplace(open(url, "b"));
  }
  mrt::Node& b() { return *b_; }
  fs::path b_dir() const { return root_ / "b"; }

  // One message A -> B: milliseconds from send() to B's `message` event; nullopt when it did not
  // arrive (with its `delivered`) within 30 s.
  std::optional<double> ping() {
    const std::string body = "ping " + std::to_string(next_++);
    const auto start = Clock::now();
    auto id = a_->send(b_->address(), body);
    if (!id) return std::nullopt;
    std::optional<double> arrived;
    bool delivered = false;
    while (Clock::now() - start < 30s && !(arrived && delivered)) {
      if (auto e = b_->next_event(1ms)) {
        if (e->type == mrt::NodeEventType::message && e->peer == a_->address()) {
          if (!bodies_.insert(e->body).second) ++duplicated_;
          if (e->body == body)
            arrived = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        }
        b_->consumed(*e);
      }
      if (auto e = a_->next_event(0ms)) {
        if (e->type == mrt::NodeEventType::delivered && e->id == *id) delivered = true;
        a_->consumed(*e);
      }
    }
    if (!arrived || !delivered) ++lost_;
    return arrived;
  }
  std::size_t lost() const { return lost_; }
  std::size_t duplicated() const { return duplicated_; }

 private:
  mrt::Node open(const std::string& url, const std::string& name) {
    mrt::NodeConfig c;
    c.homeserver = url;
    c.server_name = kServerName;
    c.data_dir = root_ / name;
    auto node = mrt::Node::open(std::move(c), mrt::PrivateKey::generate());
    if (!node) throw std::runtime_error("open " + name + ": " + node.error().message);
    if (auto started = node->start(); !started)
      throw std::runtime_error("start " + name + ": " + started.error().message);
    return std::move(*node);
  }

  fs::path root_;
  std::optional<mrt::Node> a_, b_;
  std::set<std::string> bodies_;
  std::size_t next_ = 0, lost_ = 0, duplicated_ = 0;
};

std::vector<double> pings(HonestPair& pair, std::size_t n) {
  std::vector<double> v;
  for (std::size_t i = 0; i < n; ++i)
    if (auto ms = pair.ping()) v.push_back(*ms);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> attacks = {"replay", "sessions", "room_keys", "sybils", "oversized"};
  double scale = 1.0;
  fs::path dir = fs::temp_directory_path();
  // The attacker's own mode: --attack NAME SIZE URL USER DEVICE ADDRESS DIR.
  if (argc == 9 && std::string(argv[1]) == "--attack") {
    auto address = mrt::Address::parse(argv[7]);
    if (!address) return 2;
    return run_attack(argv[2], std::stoul(argv[3]), {argv[4], argv[5], argv[6], *address}, argv[8]);
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--attacks")
      attacks = split(argv[i + 1]);
    else if (a == "--scale")
      scale = std::stod(argv[i + 1]);
    else if (a == "--dir")
      dir = argv[i + 1];
    else {
      std::cerr << "usage: mrt_hostile_soak [--attacks replay,sessions,room_keys,sybils,oversized] "
                   "[--scale 1.0] [--dir /tmp]\n";
      return 2;
    }
  }
  const std::map<std::string, std::size_t> sizes = {{"replay", 100'000},
                                                    {"sessions", 20'000},
                                                    {"room_keys", 30'000},
                                                    {"sybils", 400},
                                                    {"oversized", 180}};
  const fs::path root = dir / ("mrt-hostile-" + std::to_string(getpid()));
  fs::create_directories(root);
  int exit_code = 0;
  try {
    mrt::testing::ServerProcess server(
        root / "server", {"--rate-limits", "send=0,to_device=0,invite=0,create_room=0,login=0"});
    HonestPair pair(server.base_url(), root);
    pings(pair, 20);  // first contact (keys, sessions, the DM room) out of the measurement
    const std::vector<double> quiet = pings(pair, 100);
    const double quiet_p50 = mrt::bench::percentile(quiet, 0.5),
                 quiet_p99 = mrt::bench::percentile(quiet, 0.99);
    std::cout << json{{"kind", "quiet"}, {"p50_ms", quiet_p50}, {"p99_ms", quiet_p99}}.dump()
              << std::endl;
    for (const auto& attack : attacks) {
      const auto size = static_cast<std::size_t>(static_cast<double>(sizes.at(attack)) * scale);
      const std::int64_t rss_before = rss_bytes();
      const std::uintmax_t store_before = dir_bytes(pair.b_dir());
      const mrt::NodeStats stats_before = pair.b().stats();
      // Everything the child needs is made before fork(): other threads may hold locks.
      const std::string self = fs::read_symlink("/proc/self/exe");
      const std::string n = std::to_string(size), user = pair.b().user_id(),
                        device = pair.b().device_id(), address = pair.b().address().to_hex(),
                        attacker_dir = (root / ("attacker-" + attack)).string();
      const auto start = Clock::now();
      const pid_t child = fork();
      if (child == 0) {
        execl(self.c_str(), self.c_str(), "--attack", attack.c_str(), n.c_str(),
              server.base_url().c_str(), user.c_str(), device.c_str(), address.c_str(),
              attacker_dir.c_str(), static_cast<char*>(nullptr));
        _exit(127);
      }
      std::vector<double> during;
      int status = 0;
      bool done = false;
      while (!done || during.size() < 50) {
        if (auto ms = pair.ping()) during.push_back(*ms);
        if (!done && waitpid(child, &status, WNOHANG) == child) done = true;
      }
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      std::this_thread::sleep_for(2s);  // what the last payloads cost B
      const mrt::NodeStats s = pair.b().stats();
      const double p50 = mrt::bench::percentile(during, 0.5),
                   p99 = mrt::bench::percentile(during, 0.99);
      json row = {{"kind", "attack"},
                  {"attack", attack},
                  {"size", size},
                  {"attacker_ok", WIFEXITED(status) && WEXITSTATUS(status) == 0},
                  {"seconds", seconds},
                  {"honest_samples", during.size()},
                  {"p50_ms", p50},
                  {"p99_ms", p99},
                  {"p50_ratio", quiet_p50 > 0 ? p50 / quiet_p50 : 0},
                  {"p99_ratio", quiet_p99 > 0 ? p99 / quiet_p99 : 0},
                  {"store_growth_bytes", static_cast<std::int64_t>(dir_bytes(pair.b_dir())) -
                                             static_cast<std::int64_t>(store_before)},
                  {"rss_growth_bytes", rss_bytes() - rss_before},
                  {"envelopes_gated", s.envelopes_gated - stats_before.envelopes_gated},
                  {"olm_sessions_throttled",
                   s.olm_sessions_throttled - stats_before.olm_sessions_throttled},
                  {"undecryptable", s.undecryptable - stats_before.undecryptable},
                  {"dm_rooms_over_limit", s.dm_rooms_over_limit - stats_before.dm_rooms_over_limit},
                  {"oversized_to_device_dropped",
                   s.oversized_to_device_dropped - stats_before.oversized_to_device_dropped},
                  {"lost", pair.lost()},
                  {"duplicated", pair.duplicated()}};
      std::cout << row.dump() << std::endl;
    }
    if (pair.lost() > 0 || pair.duplicated() > 0) exit_code = 1;
  } catch (const std::exception& e) {
    std::cerr << "mrt_hostile_soak: " << e.what() << "\n";
    exit_code = 2;
  }
  fs::remove_all(root);
  return exit_code;
}
