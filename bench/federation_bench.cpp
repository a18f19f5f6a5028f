// The federation benchmark: mrt node to node on one Synapse and across two federating
// Synapses, against the raw homeserver path (a plain Matrix user on bare HTTP sending events of
// the same byte size over the same servers), in one run. bench/federation_run.sh starts two
// Synapse instances and runs it (docs/benchmarks.md, "Federation").
//
//   mrt_federation_bench --hs1 NAME=URL --hs2 NAME=URL [--pid1 PID] [--pid2 PID]
//                        [--samples 100] [--warmup 10] [--block 10] [--gap-block 1]
//                        [--first-contacts 4]
//                        [--body-bytes 128] [--setups one,two] [--durability full,off]
//                        [--gaps 0,250] [--carriers to_device,room] [--mrt-paces acked,at-once]
//                        [--raw-room-types network.raiden.bench,m.room.encrypted]
//                        [--patience-ms 60000] [--dir DIR] [--json FILE]
//
// For each setup, "one" (users A and B both on hs1) and "two" (A on hs1, B on hs2):
//   - raw path: two plain users (login_ethereum on fresh keys, each its own /sync long-poll
//     with the node's filter) in a room made like mrt's DM room; (a) PUT /sendToDevice of an
//     unencrypted event of the size of mrt's Olm content for a one-envelope payload, (b) PUT
//     /rooms/{id}/send of an event of the size of mrt's Megolm content, once of a custom type
//     and once typed m.room.encrypted (as every encrypted event, mrt's included: Synapse's
//     default push rules notify on it in a two-member room); latency from the send call's start
//     to the receiver's sync loop holding it;
//   - mrt: two mrt::Node per carrier and durability (fresh keys, stores under --dir,
//     known_servers = both server names; the room carrier once the DM room is in use both ways,
//     as `mrt demo` waits), send() -> `message` at the peer, paced two ways (--mrt-paces):
//     each sent after the last one's `delivered` ("acked"), or as soon as the last one arrived
//     ("at-once", as the raw path: an answer may carry the ack of what it answers);
//   - both alternate direction; the series of a carrier (raw, mrt full, mrt off) take turns
//     every --block samples (--gap-block with a gap) after --warmup each, so that the
//     machine's load falls on all alike;
//     the process's CPU time and each Synapse's (/proc/PID/stat, when --pid1/--pid2 are given)
//     are summed over each series' own blocks; all of it again for each --gaps value (ms of
//     pause before every message; 0: back to back);
//   - first contact, --first-contacts rounds, raw and mrt in turns with fresh users and nodes:
//     raw createRoom (invite) -> invitee's sync has the invite -> join -> creator's sync has the
//     join -> first event -> invitee's sync has it; mrt send() -> `message` (no cached id, no
//     room: over to_device, PROTOCOL §5) and until the DM room carries messages both ways.
// Prints the tables with the federation goals (mrt p50 at most 10 ms over raw p50 per carrier;
// mrt first contact at most 2x the raw createRoom + invite + join), progress on stderr, and
// everything as one JSON document to --json. Exits 1 when a step did not complete within the
// patience (the JSON then holds what was measured and the error), 2 on a bad argument.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

#include "fed_bench.hpp"
#include "net_bench.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using mrt::bench::fed::Server;

const char* const kUsage =
    "usage: mrt_federation_bench --hs1 NAME=URL --hs2 NAME=URL [--pid1 PID] [--pid2 PID]\n"
    "           [--samples N] [--warmup N] [--block N] [--gap-block N] [--first-contacts N]\n"
    "           [--body-bytes N]\n"
    "           [--setups one,two] [--durability full,off] [--gaps MS,MS]\n"
    "           [--mrt-paces acked,at-once]\n"
    "           [--carriers to_device,room] [--raw-room-types TYPE,TYPE] [--patience-ms N]\n"
    "           [--dir DIR] [--json FILE]\n";

struct Args {
  Server hs1, hs2;
  mrt::bench::fed::RunOptions run;
  std::vector<std::string> setups = {"one", "two"};
  fs::path dir = fs::temp_directory_path();
  std::string json_path;
  std::string command;
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

Server server_of(const std::string& value) {
  const auto eq = value.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == value.size())
    throw std::invalid_argument("expected NAME=URL: " + value);
  return {.name = value.substr(0, eq), .url = value.substr(eq + 1)};
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 0; i < argc; ++i) a.command += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(flag);
    const std::string value = argv[++i];
    auto count = [&] { return static_cast<std::size_t>(std::stoul(value)); };
    if (flag == "--hs1") {
      const pid_t pid = a.hs1.pid;
      a.hs1 = server_of(value);
      a.hs1.pid = pid;
    } else if (flag == "--hs2") {
      const pid_t pid = a.hs2.pid;
      a.hs2 = server_of(value);
      a.hs2.pid = pid;
    } else if (flag == "--pid1") {
      a.hs1.pid = static_cast<pid_t>(std::stol(value));
    } else if (flag == "--pid2") {
      a.hs2.pid = static_cast<pid_t>(std::stol(value));
    } else if (flag == "--samples") {
      a.run.samples = count();
    } else if (flag == "--warmup") {
      a.run.warmup = count();
    } else if (flag == "--block") {
      a.run.block = std::max<std::size_t>(1, count());
    } else if (flag == "--gap-block") {
      a.run.gap_block = std::max<std::size_t>(1, count());
    } else if (flag == "--first-contacts") {
      a.run.first_contacts = count();
    } else if (flag == "--body-bytes") {
      a.run.body_bytes = count();
    } else if (flag == "--patience-ms") {
      a.run.patience = std::chrono::milliseconds(count());
    } else if (flag == "--setups") {
      a.setups = split(value);
      for (const auto& s : a.setups)
        if (s != "one" && s != "two") throw std::invalid_argument(flag + " " + s);
    } else if (flag == "--durability") {
      a.run.durabilities.clear();
      for (const auto& d : split(value)) {
        if (d != "full" && d != "off") throw std::invalid_argument(flag + " " + d);
        a.run.durabilities.push_back(d == "full" ? mrt::store::Durability::full
                                                 : mrt::store::Durability::off);
      }
    } else if (flag == "--mrt-paces") {
      a.run.mrt_paces = split(value);
      for (const auto& pace : a.run.mrt_paces)
        if (pace != "acked" && pace != "at-once") throw std::invalid_argument(flag + " " + pace);
      if (a.run.mrt_paces.empty()) throw std::invalid_argument(flag);
    } else if (flag == "--gaps") {
      a.run.gaps.clear();
      for (const auto& g : split(value)) a.run.gaps.emplace_back(std::stoul(g));
      if (a.run.gaps.empty()) throw std::invalid_argument(flag);
    } else if (flag == "--carriers") {
      a.run.carriers.clear();
      for (const auto& c : split(value)) {
        if (c != "to_device" && c != "room") throw std::invalid_argument(flag + " " + c);
        a.run.carriers.push_back(c == "room" ? mrt::Carrier::room : mrt::Carrier::to_device);
      }
    } else if (flag == "--raw-room-types") {
      a.run.raw_room_types = split(value);
      if (a.run.raw_room_types.empty()) throw std::invalid_argument(flag);
    } else if (flag == "--dir") {
      a.dir = value;
    } else if (flag == "--json") {
      a.json_path = value;
    } else {
      throw std::invalid_argument(flag);
    }
  }
  if (a.hs1.url.empty() || a.hs2.url.empty()) throw std::invalid_argument("--hs1 and --hs2");
  if (a.hs1.name == a.hs2.name) throw std::invalid_argument("--hs1 and --hs2 are one server");
  return a;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return text;
}

// ---- the tables -------------------------------------------------------------------------------

std::string ms(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(v < 100 ? 1 : 0) << v << " ms";
  return s.str();
}

std::string signed_ms(double v) {
  return (v >= 0 ? "+" : "−") + ms(std::abs(v));
}

std::string us(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(0) << v << " µs";
  return s.str();
}

double num(const json& j, const char* field) {
  return j.contains(field) ? j.at(field).get<double>() : 0.0;
}

std::string tables(const json& setup) {
  std::ostringstream out;
  const bool two = setup.at("server_a") != setup.at("server_b");
  const json& p = setup.at("payload_bytes");
  out << "\n### " << (two ? "Two federating Synapses" : "One Synapse") << ": A on "
      << setup.at("server_a").get<std::string>() << ", B on "
      << setup.at("server_b").get<std::string>() << "\n\n"
      << "Load average " << setup.at("load_start").get<std::string>() << " at the start, "
      << setup.value("load_end", std::string("?")) << " at the end. Payload: a " << p.at("body")
      << "-byte body, a " << p.at("envelope") << "-byte envelope; mrt's content "
      << p.at("to_device") << " B over to_device (Olm; " << p.at("to_device_prekey")
      << " B as a pre-key message), " << p.at("room")
      << " B in the room (Megolm); the raw events carry as many bytes.\n\n";
  out << "| carrier | gap | path | samples | p50 | p90 | max | p50 − raw p50 | goal: ≤ +10 ms "
         "| process CPU / msg | server A CPU / msg"
      << (two ? " | server B CPU / msg" : "") << " | notes |\n"
      << "|---|---|---|---|---|---|---|---|---|---|---" << (two ? "|---" : "") << "|---|\n";
  std::vector<std::int64_t> gaps;
  for (const auto& s : setup.at("latency")) {
    const auto g = s.at("gap_ms").get<std::int64_t>();
    if (std::find(gaps.begin(), gaps.end(), g) == gaps.end()) gaps.push_back(g);
  }
  for (const char* carrier : {"to_device", "room"}) {
    for (const auto gap : gaps) {
      // The goal's reference is the first raw series; others are named in the notes.
      std::optional<double> raw_p50;
      std::vector<std::pair<std::string, double>> other_raw;
      for (const auto& s : setup.at("latency")) {
        if (s.at("carrier") != carrier || s.at("gap_ms") != gap || s.at("path") != "raw") continue;
        if (!raw_p50) {
          raw_p50 = num(s, "p50_ms");
        } else {
          other_raw.emplace_back(s.at("event_type").get<std::string>(), num(s, "p50_ms"));
        }
      }
      bool first_raw = true;
      for (const auto& s : setup.at("latency")) {
        if (s.at("carrier") != carrier || s.at("gap_ms") != gap) continue;
        const bool raw = s.at("path") == "raw";
        const bool reference = raw && first_raw;
        if (raw) first_raw = false;
        const double delta = num(s, "p50_ms") - raw_p50.value_or(0);
        std::string goal = "–", notes;
        if (!raw) {
          const bool full = s.at("durability") == "full";
          goal = std::string(delta <= 10 ? "met" : "**missed**") + (full ? "" : " (off)");
          if (s.contains("delivered_p50_ms"))
            notes = "delivered p50 " + ms(num(s, "delivered_p50_ms")) + "; ";
          std::uint64_t resent = 0, lookups = 0, failed = 0, undecryptable = 0;
          for (const auto& n : s.at("node_stats")) {
            resent += n.at("resent").get<std::uint64_t>();
            lookups += n.at("id_lookups").get<std::uint64_t>();
            failed += n.at("id_lookups_failed").get<std::uint64_t>();
            undecryptable += n.at("undecryptable").get<std::uint64_t>();
          }
          notes += "resent " + std::to_string(resent) + ", id_lookups " + std::to_string(lookups) +
                   " (" + std::to_string(failed) + " failed)";
          if (undecryptable) notes += ", undecryptable " + std::to_string(undecryptable);
          if (s.at("wrong_carrier").get<std::size_t>())
            notes += ", " + s.at("wrong_carrier").dump() + " on the other carrier";
          if (s.at("rejected_or_failed").get<std::size_t>())
            notes += ", rejected or failed " + s.at("rejected_or_failed").dump();
          for (const auto& [type, p50] : other_raw)
            notes += "; p50 − raw " + type + " p50: " + signed_ms(num(s, "p50_ms") - p50);
        } else {
          notes = "send call p50 " + ms(num(s, "send_call_p50_ms"));
        }
        out << "| " << carrier << " | " << (gap == 0 ? "0" : std::to_string(gap) + " ms") << " | "
            << (raw ? "raw (bare HTTP), " + s.at("event_type").get<std::string>()
                    : "mrt, durability " + s.at("durability").get<std::string>() + ", " +
                          s.at("pace").get<std::string>())
            << " | " << s.at("samples") << " | " << ms(num(s, "p50_ms")) << " | "
            << ms(num(s, "p90_ms")) << " | " << ms(num(s, "max_ms")) << " | "
            << (reference ? "–" : signed_ms(delta)) << " | " << goal << " | "
            << us(num(s, "process_cpu_us_per_msg")) << " | "
            << us(num(s, "server_a_cpu_us_per_msg"))
            << (two ? " | " + us(num(s, "server_b_cpu_us_per_msg")) : "") << " | " << notes
            << " |\n";
      }
    }
  }
  const json& fc = setup.at("first_contact");
  out << "\nFirst contact (fresh users / nodes each round; mrt: room carrier, durability full):\n\n"
      << "| round | raw createRoom | raw invite seen | raw createRoom + invite + join | raw join "
         "seen by creator | raw first event received | mrt sender | mrt send → message | mrt "
         "send → delivered | mrt DM room in use both ways |\n"
      << "|---|---|---|---|---|---|---|---|---|---|\n";
  for (std::size_t r = 0; r < fc.at("raw").size(); ++r) {
    const json& raw = fc.at("raw")[r];
    const json& m = fc.at("mrt")[r];
    out << "| " << r + 1 << " | " << ms(num(raw, "create_room_ms")) << " | "
        << ms(num(raw, "invite_seen_ms")) << " | " << ms(num(raw, "create_invite_join_ms")) << " | "
        << ms(num(raw, "join_seen_by_creator_ms")) << " | " << ms(num(raw, "first_event_ms"))
        << " | " << (m.at("sender_is_lower").get<bool>() ? "lower (creates the room)" : "higher")
        << " | " << ms(num(m, "message_ms")) << " (" << m.at("first_carrier").get<std::string>()
        << ") | " << ms(num(m, "delivered_ms")) << " | " << ms(num(m, "room_both_ways_ms")) << " ("
        << m.at("messages_until_room") << " messages) |\n";
  }
  const double raw_join = num(fc, "raw_create_invite_join_median_ms");
  const double mrt_first = num(fc, "mrt_message_median_ms");
  out << "\nFirst contact goal (medians): mrt send → message " << ms(mrt_first)
      << " against 2 × raw createRoom + invite + join = 2 × " << ms(raw_join) << " = "
      << ms(2 * raw_join) << ": " << (mrt_first <= 2 * raw_join ? "met" : "missed") << " ("
      << std::fixed << std::setprecision(2) << (raw_join > 0 ? mrt_first / raw_join : 0)
      << "×). Raw first event received: " << ms(num(fc, "raw_first_event_median_ms"))
      << "; mrt DM room in use both ways: " << ms(num(fc, "mrt_room_both_ways_median_ms")) << ".\n";
  return out.str();
}

json gaps_ms(const mrt::bench::fed::RunOptions& o) {
  json out = json::array();
  for (const auto g : o.gaps) out.push_back(g.count());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  try {
    a = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bad argument " << e.what() << "\n" << kUsage;
    return 2;
  }
  const fs::path root = a.dir / ("mrt-federation-bench-" + std::to_string(::getpid()));
  fs::remove_all(root);
  a.run.root = root;
  json doc = {{"bench", "mrt_federation_bench"},
              {"command", a.command},
              {"utc_start", utc_now()},
              {"servers",
               {{{"name", a.hs1.name}, {"url", a.hs1.url}, {"pid", a.hs1.pid}},
                {{"name", a.hs2.name}, {"url", a.hs2.url}, {"pid", a.hs2.pid}}}},
              {"options",
               {{"samples", a.run.samples},
                {"warmup", a.run.warmup},
                {"block", a.run.block},
                {"gap_block", a.run.gap_block},
                {"first_contacts", a.run.first_contacts},
                {"body_bytes", a.run.body_bytes},
                {"patience_ms", a.run.patience.count()},
                {"gaps_ms", gaps_ms(a.run)},
                {"raw_room_types", a.run.raw_room_types},
                {"dir", a.dir.string()}}},
              {"setups", json::array()}};
  bool ok = true;
  try {
    const std::vector<std::string> known = {a.hs1.name, a.hs2.name};
    for (const auto& s : a.setups) {
      doc["setups"].push_back(
          mrt::bench::fed::run_setup(s, a.hs1, s == "one" ? a.hs1 : a.hs2, known, a.run));
      std::cerr << tables(doc["setups"].back());
    }
  } catch (const std::exception& e) {
    std::cerr << "mrt_federation_bench: " << e.what() << "\n";
    doc["error"] = e.what();
    ok = false;
  }
  doc["utc_end"] = utc_now();
  doc["ok"] = ok;
  std::cout << "## mrt_federation_bench, " << doc["utc_start"].get<std::string>() << " – "
            << doc["utc_end"].get<std::string>() << "\n\n`" << a.command << "`\n";
  for (const auto& s : doc["setups"]) std::cout << tables(s);
  if (!a.json_path.empty()) {
    std::ofstream(a.json_path) << doc.dump(2) << "\n";
    std::cerr << "wrote " << a.json_path << "\n";
  }
  std::error_code ignored;
  fs::remove_all(root, ignored);
  return ok ? 0 : 1;
}
