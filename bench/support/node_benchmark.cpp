// The node-to-node benchmark (node_benchmark.hpp), for `mrt bench` and mrt_node_bench.
#include "bench/support/node_benchmark.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <olm/olm.h>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <sodium.h>

#include <mrt/canonical_json.hpp>
#include <mrt/envelope.hpp>
#include <mrt/eth.hpp>
#include <mrt/olm.hpp>

#include "bench/support/raw_megolm.hpp"
#include "transport/envelope_batch.hpp"

namespace mrt::cli {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

double round3(double x) {
  return std::round(x * 1000) / 1000;
}

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

using Options = NodeBenchOptions;
using Stop = std::function<bool()>;

void check(const Stop& stop) {
  if (stop && stop()) throw NodeBenchInterrupted();
}

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

// CPU µs per encryption and decryption of `plaintext`: Megolm on bare libolm, Olm on mrt's
// thin libolm wrappers (a session used both ways once, then one direction: no ratchet step).
std::map<std::string, double> measure_ciphers(const std::string& plaintext, std::size_t n) {
  std::map<std::string, double> r;
  mrt::bench::RawGroup group;
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
  // One Megolm or Olm message per envelope (the goal's "sign + encrypt + decrypt + recover").
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

  Pair(const std::string& homeserver, const fs::path& root, mrt::Carrier carrier,
       mrt::store::Durability durability) {
    auto open = [&](const std::string& name) {
      mrt::NodeConfig c;
      c.homeserver = homeserver;
      c.server_name = "localhost";
      c.data_dir = root / name;
      c.carrier = carrier;
      c.durability = durability;
      // The receiver's spam budget (default 200/s, burst 2,000) and verification gate (2,000/s)
      // would refuse a 5,000-message burst, and the sender's outbox cap (10,000 per recipient) a
      // larger one: lifted, like the server's rate limits.
      c.policy.rate_per_second = 1e9;
      c.policy.burst = 1e9;
      c.policy.max_verified_per_second = 1e9;
      c.policy.max_outbox_per_recipient = std::numeric_limits<std::size_t>::max();
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
                           const char* what, const Stop& stop) {
  const auto deadline = Clock::now() + kPatience;
  while (Clock::now() < deadline) {
    check(stop);
    auto e = node.next_event(100ms);
    if (!e) continue;
    node.consumed(*e);
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
Exchange exchange(mrt::Node& from, mrt::Node& to, const std::string& body, const Stop& stop) {
  const auto t0 = Clock::now();
  auto id = from.send(to.address(), body);
  if (!id) throw Failure("send: " + id.error().message);
  auto got = await_event(to, mrt::NodeEventType::message, *id, "a message", stop);
  const auto t1 = Clock::now();
  await_event(from, mrt::NodeEventType::delivered, *id, "its delivered event", stop);
  const auto t2 = Clock::now();
  return {ms_between(t0, t1), ms_between(t0, t2), *got.carrier};
}

// First contact (Olm sessions; for the room carrier the DM room, to_device until it is ready):
// exchanges until messages arrive on `carrier` both ways.
int make_ready(Pair& p, mrt::Carrier carrier, const Stop& stop) {
  const auto deadline = Clock::now() + 60s;
  for (int round = 1;; ++round) {
    const bool ab = exchange(*p.a, *p.b, "ready?", stop).carrier == carrier;
    const bool ba = exchange(*p.b, *p.a, "ready!", stop).carrier == carrier;
    if (ab && ba) return round;
    if (Clock::now() > deadline) throw Failure("never moved to the expected carrier");
    std::this_thread::sleep_for(50ms);
  }
}

json measure_latency(Pair& p, mrt::Carrier carrier, const Options& o, const Stop& stop) {
  std::vector<double> latency, delivered;
  std::size_t other_carrier = 0;
  for (std::size_t i = 0; i < o.warmup + o.samples; ++i) {
    const bool forth = i % 2 == 0;
    auto x = exchange(forth ? *p.a : *p.b, forth ? *p.b : *p.a, body_of(o.body_bytes, i), stop);
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

json measure_throughput(Pair& p, const BenchHomeserver& server, const Options& o, bool& ok,
                        const Stop& stop) {
  const std::size_t n = o.messages;
  const auto a0 = p.a->stats(), b0 = p.b->stats();
  std::atomic<bool> quit{false};
  std::size_t received = 0, duplicates = 0, out_of_order = 0;
  Clock::time_point last_received{};
  // B's application: consumes every message as it comes.
  std::thread receiver([&] {
    std::set<std::string> seen;
    long last = -1;
    const auto deadline = Clock::now() + kPatience + std::chrono::milliseconds(n);
    while (received < n && Clock::now() < deadline && !quit) {
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
  });
  // Stops and joins the receiver however this function ends.
  struct Joiner {
    std::atomic<bool>& quit;
    std::thread& thread;
    ~Joiner() {
      quit = true;
      if (thread.joinable()) thread.join();
    }
  } joiner{quit, receiver};

  const double cpu0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  const double server0 = server.cpu_seconds();
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
    check(stop);
    auto e = p.a->next_event(100ms);
    if (!e) continue;
    p.a->consumed(*e);
    if (e->type == mrt::NodeEventType::delivered && ids.count(e->id)) ++delivered;
  }
  const auto t_delivered = Clock::now();
  receiver.join();
  const double server_cpu = server.cpu_seconds() - server0;
  // The nodes' CPU: the process's, without the homeserver's when it runs in this process.
  const double cpu =
      cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0 - (server.in_process() ? server_cpu : 0.0);
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
      {"server_in_process", server.in_process()},
      {"payloads", payloads},
      {"msgs_per_payload", round3(static_cast<double>(n) / static_cast<double>(payloads))},
      {"ack_payloads", b1.payloads - b0.payloads},
      {"resent", a1.resent - a0.resent},
      {"http_retries", (a1.http_retries - a0.http_retries) + (b1.http_retries - b0.http_retries)},
      {"rejected_since_start", rejected},
      {"undecryptable_since_start", undecryptable}};
}

}  // namespace

double proc_stat_cpu_seconds(const fs::path& stat_file) {
  std::ifstream in(stat_file);
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 > stat.size()) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(f);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

bool run_node_benchmark(const NodeBenchOptions& o, const fs::path& root,
                        const NodeBenchHooks& hooks) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium did not initialise");
  auto emit = [&](const json& where, const json& fields) {
    json line = where;
    line.update(fields);
    if (hooks.emit) hooks.emit(line);
  };
  const Stop& stop = hooks.interrupted;
  // The stores' directory, removed however the run ends.
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } cleanup{root};
  fs::remove_all(root);
  bool ok = true;
  if (o.primitives) emit(json::object(), measure_primitives(o));
  check(stop);
  emit({{"dir", o.dir.string()}}, measure_fsync(root));
  const auto server = hooks.start_homeserver(root / "server");
  for (const auto carrier : o.carriers) {
    for (const auto durability : o.durabilities) {
      check(stop);
      const std::string tag = std::string(mrt::to_string(carrier)) + "-" + name_of(durability);
      const json where = {{"carrier", mrt::to_string(carrier)},
                          {"durability", name_of(durability)},
                          {"body_bytes", o.body_bytes}};
      try {
        const auto t0 = Clock::now();
        Pair pair(server->url(), root / tag, carrier, durability);
        const int rounds = make_ready(pair, carrier, stop);
        json setup = {{"kind", "setup"},
                      {"ready_ms", round3(ms_between(t0, Clock::now()))},
                      {"rounds", rounds}};
        emit(where, setup);
        // The disk of a shared machine changes from minute to minute: its fsync time next to
        // each latency figure.
        const json disk = measure_fsync(root / tag);
        json latency = measure_latency(pair, carrier, o, stop);
        latency["fsync_p50_ms"] = disk["p50_ms"];
        latency["fsync_p99_ms"] = disk["p99_ms"];
        if (latency["other_carrier"] != 0) ok = false;
        emit(where, latency);
        emit(where, measure_throughput(pair, *server, o, ok, stop));
      } catch (const Failure& f) {
        ok = false;
        emit(where, {{"kind", "error"}, {"what", f.what()}});
      }
      fs::remove_all(root / tag);
    }
  }
  return ok;
}

namespace {

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}
std::string ms(double v) {
  return fixed(v, v < 10 ? 2 : 1) + " ms";
}
std::string us(double v) {
  return fixed(v, 1) + " us";
}
std::string times(double a, double b) {
  return b > 0 ? fixed(a / b, 2) + "x" : "-";
}
std::string met(bool ok) {
  return ok ? "met" : "MISSED";
}
double num(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

// Columns separated by two spaces; the first two and the last left-aligned (names and
// verdicts), the figures between them right-aligned.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::ostringstream out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      const bool left = c < 2 || c + 1 == row.size();
      line += "  " + (left ? row[c] + pad : pad + row[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
  return out.str();
}

}  // namespace

std::string node_bench_tables(const std::vector<json>& results) {
  auto pick = [&](const char* kind) {
    std::vector<json> out;
    for (const auto& r : results) {
      if (r.value("kind", "") == kind) out.push_back(r);
    }
    return out;
  };
  const auto primitives = pick("primitives");
  const auto latencies = pick("latency"), throughputs = pick("throughput");
  std::ostringstream out;
  for (const auto& f : pick("fsync")) {
    out << "fdatasync of 4 KiB in " << f.value("dir", "?") << ": p50 " << ms(num(f, "p50_ms"))
        << ", p99 " << ms(num(f, "p99_ms")) << "\n";
  }
  for (const auto& s : pick("setup")) {
    out << "first contact " << s.value("carrier", "?") << "/" << s.value("durability", "?") << ": "
        << ms(num(s, "ready_ms")) << " (" << s.value("rounds", 0) << " round(s))\n";
  }
  if (!latencies.empty()) {
    out << "\nLatency, send() -> message event on the other node ("
        << latencies.front().value("body_bytes", 0) << "-byte bodies, "
        << latencies.front().value("samples", 0) << " samples)\n";
    std::vector<std::vector<std::string>> rows = {{"carrier", "durability", "p50", "p99", "max",
                                                   "send->delivered p50", "fdatasync p50",
                                                   "goals p50 <= 5 ms, p99 <= 25 ms"}};
    for (const auto& l : latencies) {
      rows.push_back({l.value("carrier", "?"), l.value("durability", "?"), ms(num(l, "p50_ms")),
                      ms(num(l, "p99_ms")), ms(num(l, "max_ms")), ms(num(l, "delivered_p50_ms")),
                      ms(num(l, "fsync_p50_ms")),
                      met(num(l, "p50_ms") <= 5) + ", " + met(num(l, "p99_ms") <= 25)});
    }
    out << table(rows);
  }
  if (!throughputs.empty()) {
    out << "\nThroughput, A -> B, send_many of " << throughputs.front().value("chunk", 0) << "\n";
    std::vector<std::vector<std::string>> rows = {
        {"carrier", "durability", "messages", "lost", "dup.", "out of order", "msg/s received",
         "msg/s delivered", "messages per Matrix send", "goal >= 2,000 msg/s"}};
    for (const auto& t : throughputs) {
      const double n = num(t, "messages");
      rows.push_back({t.value("carrier", "?"), t.value("durability", "?"), fixed(n, 0),
                      fixed(n - num(t, "received"), 0), fixed(num(t, "duplicates"), 0),
                      fixed(num(t, "out_of_order"), 0), fixed(num(t, "received_per_s"), 0),
                      fixed(num(t, "delivered_per_s"), 0), fixed(num(t, "msgs_per_payload"), 1),
                      met(num(t, "received_per_s") >= 2000)});
    }
    out << table(rows);
  }
  if (!throughputs.empty()) {
    const bool in_process = throughputs.front().value("server_in_process", false);
    out << "\nCPU per message in the throughput run: the nodes (this process"
        << (in_process ? " without the homeserver's threads" : "")
        << ") against the raw primitives of this run\n";
    std::vector<std::vector<std::string>> rows = {
        {"carrier", "durability", "nodes", "homeserver", "primitives per envelope", "nodes/that",
         "primitives batched", "nodes/that", "goal <= 1.3x"}};
    for (const auto& t : throughputs) {
      const double cpu = num(t, "cpu_us_per_msg");
      std::vector<std::string> row = {t.value("carrier", "?"), t.value("durability", "?"), us(cpu),
                                      us(num(t, "server_cpu_us_per_msg"))};
      if (primitives.empty()) {
        row.insert(row.end(), {"-", "-", "-", "-", "-"});
      } else {
        const bool room = t.value("carrier", "") == "room";
        const json& p = primitives.front();
        const double sum = num(p, room ? "sum_room_us" : "sum_to_device_us");
        const double batched = num(p, room ? "sum_room_batched_us" : "sum_to_device_batched_us");
        row.insert(row.end(), {us(sum), times(cpu, sum), us(batched), times(cpu, batched),
                               met(cpu <= 1.3 * sum) + " per envelope, " +
                                   met(cpu <= 1.3 * batched) + " batched"});
      }
      rows.push_back(std::move(row));
    }
    out << table(rows);
  }
  if (!primitives.empty()) {
    const json& p = primitives.front();
    out << "\nRaw primitives (thread CPU, best of 3 rounds; " << p.value("envelope_bytes", 0)
        << "-byte envelope):\n  personal_sign " << us(num(p, "sign_us")) << ", ecrecover "
        << us(num(p, "recover_us")) << ";\n  one envelope (" << p.value("plaintext_bytes", 0)
        << "-byte plaintext): Megolm encrypt " << us(num(p, "megolm_encrypt_us")) << " + decrypt "
        << us(num(p, "megolm_decrypt_us")) << " (bare libolm), Olm encrypt "
        << us(num(p, "olm_encrypt_us")) << " + decrypt " << us(num(p, "olm_decrypt_us"))
        << ";\n  a full payload of " << p.value("batch_envelopes", 0) << " envelopes ("
        << p.value("batch_plaintext_bytes", 0) << " bytes): Megolm "
        << us(num(p, "megolm_encrypt_batch_us")) << " + " << us(num(p, "megolm_decrypt_batch_us"))
        << ", Olm " << us(num(p, "olm_encrypt_batch_us")) << " + "
        << us(num(p, "olm_decrypt_batch_us")) << "\n";
  }
  for (const auto& e : pick("error")) {
    out << "\nERROR " << e.value("carrier", "?") << "/" << e.value("durability", "?") << ": "
        << e.value("what", "?") << "\n";
  }
  return out.str();
}

}  // namespace mrt::cli
