// mrt::Node end to end (issue 6's benchmarks): two nodes in this process, each with its own
// LMDB store under a temporary directory and a fresh key, talking through one `mrt serve` child
// on 127.0.0.1 (rate limits lifted), for each carrier (to_device, room) and store durability
// (full, off):
//   - latency: send() on one node -> the `message` event on the other, one message at a time,
//     alternating direction, each exchange finished (its `delivered` back) before the next;
//     p50/p99/max after a warm-up, and the send -> delivered round trip;
//   - throughput: N messages from A to B with send_many in chunks, msg/s until B has them all
//     and until A has every `delivered`; Matrix sends (NodeStats::payloads) per message;
//     process CPU time (both nodes, their HTTP, JSON, LMDB, Megolm/Olm, signatures, and this
//     program's own loops) per message, and the server's CPU time apart;
//   - the raw primitives in the same process, for the crypto pipeline's ratio: personal_sign and
//     ecrecover of one envelope, libolm Megolm encrypt + decrypt and Olm encrypt + decrypt of a
//     payload holding that one envelope.
// Prints one JSON object per line (bench/node_run.sh turns them into docs/benchmarks.md's
// table). Exits 1 when a message is lost, duplicated, reordered, late (30 s) or came on another
// carrier, or when a node rejected an envelope or could not decrypt a payload.
//
//   mrt_node_bench [--messages 5000] [--samples 500] [--warmup 50] [--chunk 100]
//                  [--body-bytes 128] [--carriers to_device,room] [--durability full,off]
//                  [--dir /tmp]     (where the stores go; /dev/shm takes the disk out)
//                  [--no-primitives]  (for profiling the nodes alone)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <olm/olm.h>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include <mrt/canonical_json.hpp>
#include <mrt/envelope.hpp>
#include <mrt/eth.hpp>
#include <mrt/node.hpp>
#include <mrt/olm.hpp>

#include "envelope_batch.hpp"
#include "server_process.hpp"

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr auto kPatience = 30s;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// utime + stime of another process, in seconds.
double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(f);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

double round3(double x) {
  return std::round(x * 1000) / 1000;
}

// `fields` after `where`'s, as one line.
void emit(const json& where, const json& fields) {
  json line = where;
  line.update(fields);
  std::cout << line.dump() << std::endl;
}

struct Options {
  std::size_t messages = 5000, samples = 500, warmup = 50, chunk = 100, body_bytes = 128;
  fs::path dir = fs::temp_directory_path();  // where the server's and the nodes' stores go
  bool primitives = true;
  std::vector<mrt::Carrier> carriers = {mrt::Carrier::to_device, mrt::Carrier::room};
  std::vector<mrt::store::Durability> durabilities = {mrt::store::Durability::full,
                                                      mrt::store::Durability::off};
};

std::string body_of(std::size_t bytes, std::size_t n) {
  std::string b = "m" + std::to_string(n) + " ";
  b.resize(std::max(bytes, b.size()), 'x');
  return b;
}

const char* name_of(mrt::store::Durability d) {
  return d == mrt::store::Durability::full ? "full" : "off";
}

// ---- raw primitives -------------------------------------------------------------------------

// CPU time per call of `f` (this thread), the best of 3 rounds of `n` calls.
template <typename F>
double best_us(std::size_t n, F&& f) {
  double best = 1e18;
  for (int round = 0; round < 3; ++round) {
    const double t0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    for (std::size_t i = 0; i < n; ++i) f(i);
    best = std::min(best, (cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - t0) / static_cast<double>(n));
  }
  return best * 1e6;
}

// An outbound Megolm session and the inbound one from its key, on bare libolm.
struct RawGroup {
  std::vector<std::uint8_t> out_mem = std::vector<std::uint8_t>(olm_outbound_group_session_size());
  std::vector<std::uint8_t> in_mem = std::vector<std::uint8_t>(olm_inbound_group_session_size());
  OlmOutboundGroupSession* out = olm_outbound_group_session(out_mem.data());
  OlmInboundGroupSession* in = olm_inbound_group_session(in_mem.data());
  RawGroup() {
    std::vector<std::uint8_t> random(olm_init_outbound_group_session_random_length(out));
    randombytes_buf(random.data(), random.size());
    olm_init_outbound_group_session(out, random.data(), random.size());
    std::vector<std::uint8_t> key(olm_outbound_group_session_key_length(out));
    olm_outbound_group_session_key(out, key.data(), key.size());
    olm_init_inbound_group_session(in, key.data(), key.size());
  }
  std::string encrypt(const std::string& plaintext) {
    std::string message(olm_group_encrypt_message_length(out, plaintext.size()), '\0');
    const auto n = olm_group_encrypt(
        out, reinterpret_cast<const std::uint8_t*>(plaintext.data()), plaintext.size(),
        reinterpret_cast<std::uint8_t*>(message.data()), message.size());
    message.resize(n);
    return message;
  }
  std::size_t decrypt(const std::string& message, std::vector<std::uint8_t>& plain) {
    std::string copy = message;  // libolm decodes in place
    const auto max = olm_group_decrypt_max_plaintext_length(
        in, reinterpret_cast<std::uint8_t*>(copy.data()), copy.size());
    copy = message;
    plain.resize(max);
    std::uint32_t index = 0;
    return olm_group_decrypt(in, reinterpret_cast<std::uint8_t*>(copy.data()), copy.size(),
                             plain.data(), max, &index);
  }
};

// CPU µs per encryption and decryption of `plaintext`: Megolm on bare libolm, Olm on mrt's
// thin libolm wrappers (a session used both ways once, then one direction: no ratchet step).
std::map<std::string, double> measure_ciphers(const std::string& plaintext, std::size_t n) {
  std::map<std::string, double> r;
  RawGroup group;
  std::vector<std::string> sealed;
  sealed.reserve(4 * n);
  r["megolm_encrypt"] =
      best_us(n, [&](std::size_t) { sealed.push_back(group.encrypt(plaintext)); });
  std::vector<std::uint8_t> plain;
  r["megolm_decrypt"] = best_us(n, [&](std::size_t i) {
    if (group.decrypt(sealed[i], plain) == olm_error()) std::abort();
  });

  // An Olm session used both ways once (no pre-key messages left), then one direction.
  auto alice = mrt::OlmAccount::create();
  auto bob = mrt::OlmAccount::create();
  bob.generate_one_time_keys(1);
  const std::string otk = bob.one_time_keys().begin()->second;
  bob.mark_keys_as_published();
  auto out = mrt::OlmSession::outbound(alice, bob.identity_keys().curve25519, otk).value();
  auto in = mrt::OlmSession::inbound(bob, alice.identity_keys().curve25519,
                                     out.encrypt(mrt::as_bytes("hi")))
                .value()
                .first;
  if (!out.decrypt(in.encrypt(mrt::as_bytes("back")))) std::abort();
  std::vector<mrt::OlmMessage> olm_sealed;
  olm_sealed.reserve(4 * n);
  r["olm_encrypt"] =
      best_us(n, [&](std::size_t) { olm_sealed.push_back(out.encrypt(mrt::as_bytes(plaintext))); });
  // Each Olm message decrypts once (its message key is gone after), so every round takes new
  // ones: best_us makes 3 rounds of n, and the encryption above made 3n.
  std::size_t next = 0;
  r["olm_decrypt"] = best_us(n, [&](std::size_t) {
    if (!in.decrypt(olm_sealed[next++])) std::abort();
  });
  return r;
}

// fdatasync after overwriting 4 KiB of an allocated file in `dir` (the stores' file system; no
// size change, as in LMDB's data file), p50 and p99 of 50, in ms. LMDB's durable commit waits
// for one of these and a synchronous write of its meta page.
json measure_fsync(const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path file = dir / "fsync-probe";
  const int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + file.string());
  const std::string block(4096, 'x');
  auto write_at = [&](int i) {
    return ::pwrite(fd, block.data(), block.size(), static_cast<off_t>(i) * 4096) ==
           static_cast<ssize_t>(block.size());
  };
  for (int i = 0; i < 50; ++i) {
    if (!write_at(i)) throw std::runtime_error("write failed");
  }
  ::fsync(fd);
  std::vector<double> ms;
  for (int i = 0; i < 50; ++i) {
    const auto t0 = Clock::now();
    if (!write_at(i) || ::fdatasync(fd) != 0) throw std::runtime_error("fdatasync failed");
    ms.push_back(ms_between(t0, Clock::now()));
  }
  ::close(fd);
  fs::remove(file);
  return {{"kind", "fsync"},
          {"p50_ms", round3(percentile(ms, 0.5))},
          {"p99_ms", round3(percentile(ms, 0.99))}};
}

json measure_primitives(const Options& o) {
  const auto key = mrt::PrivateKey::generate();
  const auto peer = mrt::PrivateKey::generate();
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const mrt::Envelope e =
      mrt::Envelope::message(key, peer.address(), body_of(o.body_bytes, 0), now);
  const std::string signing = e.signing_payload();
  const std::string sig_hex = e.sig.to_hex();
  const json payload = {{"envelopes", json::array({e.to_json()})}};
  // What Megolm encrypts in a room: {type, content, room_id}; what Olm carries is about the same.
  const std::string plaintext = *mrt::canonical_json({{"type", "network.raiden.envelopes"},
                                                      {"content", payload},
                                                      {"room_id", "!bench:localhost"}});

  const std::size_t n = 1000;
  json r;
  r["kind"] = "primitives";
  r["envelope_bytes"] = mrt::canonical_json(e.to_json())->size();
  r["plaintext_bytes"] = plaintext.size();
  r["sign_us"] = round3(best_us(n, [&](std::size_t) {
    auto s = mrt::personal_sign(key, mrt::as_bytes(signing));
    if (s.bytes[0] == 0 && s.bytes[1] == 0) std::abort();
  }));
  r["recover_us"] = round3(best_us(n, [&](std::size_t) {
    if (!mrt::ecrecover(mrt::as_bytes(signing), sig_hex)) std::abort();
  }));

  const auto single = measure_ciphers(plaintext, 1000);
  // A full payload as the node packs it in a burst (PayloadBuilder: up to 40,000 bytes).
  mrt::transport::PayloadBuilder full;
  std::size_t i = 0;
  while (full.add(
      mrt::Envelope::message(key, peer.address(), body_of(o.body_bytes, i++), now).to_json())) {
  }
  const std::string batch_plaintext = *mrt::canonical_json({{"type", "network.raiden.envelopes"},
                                                            {"content", full.content()},
                                                            {"room_id", "!bench:localhost"}});
  const auto batch = measure_ciphers(batch_plaintext, 100);
  const double k = static_cast<double>(full.count());
  for (const auto& [name, us] : single) r[name + "_us"] = round3(us);
  for (const auto& [name, us] : batch) r[name + "_batch_us"] = round3(us);
  r["batch_envelopes"] = full.count();
  r["batch_plaintext_bytes"] = batch_plaintext.size();
  const double base = r["sign_us"].get<double>() + r["recover_us"].get<double>();
  // One Megolm or Olm message per envelope (the "sign + encrypt + decrypt + recover").
  r["sum_room_us"] = round3(base + single.at("megolm_encrypt") + single.at("megolm_decrypt"));
  r["sum_to_device_us"] = round3(base + single.at("olm_encrypt") + single.at("olm_decrypt"));
  // The cryptography a node must do per message when a payload carries `k` envelopes: every
  // envelope signed and recovered, the payload encrypted and decrypted once.
  r["sum_room_batched_us"] =
      round3(base + (batch.at("megolm_encrypt") + batch.at("megolm_decrypt")) / k);
  r["sum_to_device_batched_us"] =
      round3(base + (batch.at("olm_encrypt") + batch.at("olm_decrypt")) / k);
  return r;
}

// ---- nodes -----------------------------------------------------------------------------------

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Pair {
  std::unique_ptr<mrt::Node> a, b;

  Pair(const mrt::testing::ServerProcess& server, const fs::path& root, mrt::Carrier carrier,
       mrt::store::Durability durability) {
    auto open = [&](const std::string& name) {
      mrt::NodeConfig c;
      c.homeserver = server.base_url();
      c.server_name = "localhost";
      c.data_dir = root / name;
      c.carrier = carrier;
      c.durability = durability;
      // The receiver's spam budget (default 200/s, burst 2,000) would refuse a 5,000-message
      // burst: lifted, like the server's rate limits.
      c.rate_per_second = 1e9;
      c.burst = 1e9;
      auto node = mrt::Node::open(std::move(c), mrt::PrivateKey::generate());
      if (!node) throw Failure("open " + name + ": " + node.error().message);
      if (auto started = node->start(); !started)
        throw Failure("start " + name + ": " + started.error().message);
      return std::make_unique<mrt::Node>(std::move(*node));
    };
    a = open("a");
    b = open("b");
  }
  ~Pair() {
    a->stop();
    b->stop();
  }
};

// Waits on `node` for the event `type` with `id` (any id when empty); other events are
// consumed and dropped. Returns the event, or throws after kPatience.
mrt::NodeEvent await_event(mrt::Node& node, mrt::NodeEventType type, const std::string& id,
                           const char* what) {
  const auto deadline = Clock::now() + kPatience;
  while (Clock::now() < deadline) {
    auto e = node.next_event(100ms);
    if (!e) continue;
    if (e->type == mrt::NodeEventType::message) node.consumed(*e);
    if (e->type == mrt::NodeEventType::rejected)
      std::cerr << "rejected: " << mrt::to_string(*e->reason) << "\n";
    if (e->type == type && (id.empty() || e->id == id)) return std::move(*e);
  }
  throw Failure(std::string("timed out waiting for ") + what);
}

struct Exchange {
  double latency_ms, delivered_ms;
  mrt::Carrier carrier;
};

// One message from -> to, finished (delivered) before returning.
Exchange exchange(mrt::Node& from, mrt::Node& to, const std::string& body) {
  const auto t0 = Clock::now();
  auto id = from.send(to.address(), body);
  if (!id) throw Failure("send: " + id.error().message);
  auto got = await_event(to, mrt::NodeEventType::message, *id, "a message");
  const auto t1 = Clock::now();
  await_event(from, mrt::NodeEventType::delivered, *id, "its delivered event");
  const auto t2 = Clock::now();
  return {ms_between(t0, t1), ms_between(t0, t2), *got.carrier};
}

// First contact (Olm sessions; for the room carrier the DM room, to_device until it is ready):
// exchanges until messages arrive on `carrier` both ways.
int make_ready(Pair& p, mrt::Carrier carrier) {
  const auto deadline = Clock::now() + 60s;
  for (int round = 1;; ++round) {
    const bool ab = exchange(*p.a, *p.b, "ready?").carrier == carrier;
    const bool ba = exchange(*p.b, *p.a, "ready!").carrier == carrier;
    if (ab && ba) return round;
    if (Clock::now() > deadline) throw Failure("never moved to the expected carrier");
    std::this_thread::sleep_for(50ms);
  }
}

json measure_latency(Pair& p, mrt::Carrier carrier, const Options& o) {
  std::vector<double> latency, delivered;
  std::size_t other_carrier = 0;
  for (std::size_t i = 0; i < o.warmup + o.samples; ++i) {
    const bool forth = i % 2 == 0;
    auto x = exchange(forth ? *p.a : *p.b, forth ? *p.b : *p.a, body_of(o.body_bytes, i));
    if (i < o.warmup) continue;
    latency.push_back(x.latency_ms);
    delivered.push_back(x.delivered_ms);
    if (x.carrier != carrier) ++other_carrier;
  }
  return {{"kind", "latency"},
          {"samples", latency.size()},
          {"p50_ms", round3(percentile(latency, 0.50))},
          {"p99_ms", round3(percentile(latency, 0.99))},
          {"max_ms", round3(percentile(latency, 1.0))},
          {"delivered_p50_ms", round3(percentile(delivered, 0.50))},
          {"delivered_p99_ms", round3(percentile(delivered, 0.99))},
          {"other_carrier", other_carrier}};
}

json measure_throughput(Pair& p, const mrt::testing::ServerProcess& server, const Options& o,
                        bool& ok) {
  const std::size_t n = o.messages;
  const auto a0 = p.a->stats(), b0 = p.b->stats();
  std::atomic<bool> receiving{true};
  std::size_t received = 0, duplicates = 0, out_of_order = 0;
  Clock::time_point last_received{};
  // B's application: consumes every message as it comes.
  std::thread receiver([&] {
    std::set<std::string> seen;
    long last = -1;
    const auto deadline = Clock::now() + kPatience + std::chrono::milliseconds(n);
    while (received < n && Clock::now() < deadline) {
      auto e = p.b->next_event(100ms);
      if (!e || e->type != mrt::NodeEventType::message) continue;
      p.b->consumed(*e);
      if (!seen.insert(e->id).second) {
        ++duplicates;
        continue;
      }
      const long index = std::stol(e->body.substr(1));
      if (index != last + 1) ++out_of_order;
      last = index;
      ++received;
      last_received = Clock::now();
    }
    receiving = false;
  });

  const double cpu0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  const double server0 = process_cpu_seconds(server.pid());
  const auto t0 = Clock::now();
  std::set<std::string> ids;
  for (std::size_t chunk = 0; chunk < n; chunk += o.chunk) {
    std::vector<std::string> bodies;
    for (std::size_t i = chunk; i < std::min(n, chunk + o.chunk); ++i)
      bodies.push_back(body_of(o.body_bytes, i));
    auto sent = p.a->send_many(p.b->address(), std::move(bodies));
    if (!sent) throw Failure("send_many: " + sent.error().message);
    ids.insert(sent->begin(), sent->end());
  }
  const auto t_sent = Clock::now();
  // A's application: waits for every delivered event.
  std::size_t delivered = 0;
  const auto deadline = Clock::now() + kPatience + std::chrono::milliseconds(n);
  while (delivered < n && Clock::now() < deadline) {
    auto e = p.a->next_event(100ms);
    if (e && e->type == mrt::NodeEventType::delivered && ids.count(e->id)) ++delivered;
  }
  const auto t_delivered = Clock::now();
  receiver.join();
  const double cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  const double server_cpu = process_cpu_seconds(server.pid()) - server0;
  const auto a1 = p.a->stats(), b1 = p.b->stats();
  const auto payloads = a1.payloads - a0.payloads;
  // Since the nodes started (first contact and the latency runs included), both nodes.
  std::uint64_t rejected = 0;
  for (const auto* st : {&a1, &b1}) {
    for (const auto& [reason, count] : st->rejected) rejected += count;
  }
  const std::uint64_t undecryptable = a1.undecryptable + b1.undecryptable;
  ok = ok && received == n && delivered == n && duplicates == 0 && out_of_order == 0 &&
       rejected == 0 && undecryptable == 0;
  const double recv_s = ms_between(t0, last_received) / 1000;
  const double deliv_s = ms_between(t0, t_delivered) / 1000;
  return {
      {"kind", "throughput"},
      {"messages", n},
      {"chunk", o.chunk},
      {"received", received},
      {"delivered", delivered},
      {"duplicates", duplicates},
      {"out_of_order", out_of_order},
      {"send_calls_ms", round3(ms_between(t0, t_sent))},
      {"received_per_s", std::round(static_cast<double>(received) / recv_s)},
      {"delivered_per_s", std::round(static_cast<double>(delivered) / deliv_s)},
      {"cpu_us_per_msg", round3(cpu * 1e6 / static_cast<double>(n))},
      {"server_cpu_us_per_msg", round3(server_cpu * 1e6 / static_cast<double>(n))},
      {"payloads", payloads},
      {"msgs_per_payload", round3(static_cast<double>(n) / static_cast<double>(payloads))},
      {"ack_payloads", b1.payloads - b0.payloads},
      {"resent", a1.resent - a0.resent},
      {"http_retries", (a1.http_retries - a0.http_retries) + (b1.http_retries - b0.http_retries)},
      {"rejected_since_start", rejected},
      {"undecryptable_since_start", undecryptable}};
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    auto number = [&] { return static_cast<std::size_t>(std::stoul(argv[++i])); };
    if (a == "--messages" && has_value) {
      o.messages = number();
    } else if (a == "--samples" && has_value) {
      o.samples = number();
    } else if (a == "--warmup" && has_value) {
      o.warmup = number();
    } else if (a == "--chunk" && has_value) {
      o.chunk = std::max<std::size_t>(1, number());
    } else if (a == "--body-bytes" && has_value) {
      o.body_bytes = number();
    } else if (a == "--no-primitives") {
      o.primitives = false;
    } else if (a == "--dir" && has_value) {
      o.dir = argv[++i];
    } else if (a == "--carriers" && has_value) {
      o.carriers.clear();
      for (const auto& c : split(argv[++i])) {
        if (c != "to_device" && c != "room") throw std::invalid_argument("carrier " + c);
        o.carriers.push_back(c == "room" ? mrt::Carrier::room : mrt::Carrier::to_device);
      }
    } else if (a == "--durability" && has_value) {
      o.durabilities.clear();
      for (const auto& d : split(argv[++i])) {
        if (d != "full" && d != "off") throw std::invalid_argument("durability " + d);
        o.durabilities.push_back(d == "full" ? mrt::store::Durability::full
                                             : mrt::store::Durability::off);
      }
    } else {
      throw std::invalid_argument(a);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bad argument " << e.what()
              << "\nusage: mrt_node_bench [--messages N] [--samples N] [--warmup N] [--chunk N] "
                 "[--body-bytes N] [--carriers to_device,room] [--durability full,off] [--dir DIR] "
                 "[--no-primitives]\n";
    return 2;
  }
  if (sodium_init() < 0) return 1;
  bool ok = true;
  const fs::path root = o.dir / ("mrt-node-bench-" + std::to_string(::getpid()));
  fs::remove_all(root);
  try {
    if (o.primitives) emit(json::object(), measure_primitives(o));
    emit({{"dir", o.dir.string()}}, measure_fsync(root));
    mrt::testing::ServerProcess server(
        root / "server", {"--rate-limits", "send=0,to_device=0,invite=0,create_room=0,login=0"});
    for (const auto carrier : o.carriers) {
      for (const auto durability : o.durabilities) {
        const std::string tag = std::string(mrt::to_string(carrier)) + "-" + name_of(durability);
        const json where = {{"carrier", mrt::to_string(carrier)},
                            {"durability", name_of(durability)},
                            {"body_bytes", o.body_bytes}};
        try {
          const auto t0 = Clock::now();
          Pair pair(server, root / tag, carrier, durability);
          const int rounds = make_ready(pair, carrier);
          json setup = {{"kind", "setup"},
                        {"ready_ms", round3(ms_between(t0, Clock::now()))},
                        {"rounds", rounds}};
          emit(where, setup);
          // The disk of a shared machine changes from minute to minute: its fsync time next to
          // each latency figure.
          const json disk = measure_fsync(root / tag);
          json latency = measure_latency(pair, carrier, o);
          latency["fsync_p50_ms"] = disk["p50_ms"];
          latency["fsync_p99_ms"] = disk["p99_ms"];
          if (latency["other_carrier"] != 0) ok = false;
          emit(where, latency);
          emit(where, measure_throughput(pair, server, o, ok));
        } catch (const Failure& f) {
          ok = false;
          emit(where, {{"kind", "error"}, {"what", f.what()}});
        }
        fs::remove_all(root / tag);
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "mrt_node_bench: " << e.what() << "\n";
    ok = false;
  }
  fs::remove_all(root);
  return ok ? 0 : 1;
}
