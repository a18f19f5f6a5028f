// Load and latency of the dev homeserver (`mrt serve`) over real HTTP on 127.0.0.1, driven by
// one libcurl multi handle:
//   - sync wake-up latency: a message is sent, the waiting /sync of each room member returns;
//     measured from just before the send to the sync's return, p50/p99, while `--idle N` other
//     users hold idle long-polls open;
//   - memory per idle long-poll (server RSS before and after they all wait);
//   - send round trip against a bare GET /versions round trip, one connection, same run;
//   - sends per second, one at a time and 32 in flight (group commit).
// With --check it exits 1 when a wake-up is lost or slower than 5 s, or an idle poll returns.
//
//   mrt_devserver_bench [--idle 1000] [--members 1] [--messages 200] [--check]
// It runs the `mrt` of its own build (MRT_CLI_PATH); `--mrt PATH`, still accepted, must name
// that same file.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <curl/curl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/eth.hpp>
#include <mrt/matrix_identity.hpp>

#include "testing/server_process.hpp"

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::size_t write_body(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::string encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.')
      out.push_back(static_cast<char>(c));
    else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// One HTTP request on a reusable easy handle.
struct Call {
  CURL* easy = curl_easy_init();
  curl_slist* headers = nullptr;
  std::string body, response;
  Clock::time_point started;
  ~Call() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
  }
  void prepare(const std::string& method, const std::string& url, const std::string& token,
               const std::string& payload, long timeout_ms = 90000) {
    curl_slist_free_all(headers);
    headers = curl_slist_append(nullptr, "Content-Type: application/json");
    if (!token.empty())
      headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
    body = payload;
    response.clear();
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    if (method == "GET") {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    started = Clock::now();
  }
  // Blocking form.
  Json run() {
    if (curl_easy_perform(easy) != CURLE_OK) throw std::runtime_error("request failed");
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) throw std::runtime_error("HTTP " + std::to_string(status) + ": " + response);
    return Json::parse(response);
  }
};

// `mrt serve` (testing/server_process.cpp) with its data under /tmp, and its RSS.
struct Server {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("mrt-devserver-bench-" + std::to_string(::getpid()));
  std::unique_ptr<mrt::testing::ServerProcess> process;
  std::string url;
  Server() {
    std::filesystem::remove_all(dir);
    process = std::make_unique<mrt::testing::ServerProcess>(
        dir, std::vector<std::string>{"--rate-limits",
                                      "send=0,to_device=0,invite=0,create_room=0,login=0"});
    url = process->base_url();
  }
  ~Server() {
    process.reset();
    std::filesystem::remove_all(dir);
  }
  long rss_kb() const {
    std::ifstream in("/proc/" + std::to_string(process->pid()) + "/status");
    std::string key;
    long value = 0;
    while (in >> key) {
      if (key == "VmRSS:") {
        in >> value;
        return value;
      }
    }
    return 0;
  }
};

struct User {
  std::string id, token, since;
};

User login(const std::string& base) {
  const auto key = mrt::PrivateKey::generate();
  const auto id = mrt::matrix_identity(key, "localhost");
  Call call;
  call.prepare("POST", base + "/_matrix/client/v3/login", "",
               Json{{"type", "m.login.password"},
                    {"identifier", {{"type", "m.id.user"}, {"user", id.user_id}}},
                    {"password", id.password.to_hex()}}
                   .dump());
  const Json r = call.run();
  User u{r["user_id"], r["access_token"], ""};
  Call sync;
  sync.prepare("GET", base + "/_matrix/client/v3/sync?timeout=0", u.token, "");
  u.since = sync.run()["next_batch"];
  return u;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string mrt;
  int idle = 10, members = 1, messages = 200;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mrt" && i + 1 < argc)
      mrt = argv[++i];
    else if (a == "--idle" && i + 1 < argc)
      idle = std::stoi(argv[++i]);
    else if (a == "--members" && i + 1 < argc)
      members = std::stoi(argv[++i]);
    else if (a == "--messages" && i + 1 < argc)
      messages = std::stoi(argv[++i]);
    else if (a == "--check")
      check = true;
    else {
      std::cerr
          << "usage: mrt_devserver_bench [--mrt PATH] [--idle N] [--members N] [--messages N] "
             "[--check]\n";
      return 2;
    }
  }
  std::error_code ec;
  if (!mrt.empty() && !std::filesystem::equivalent(mrt, MRT_CLI_PATH, ec)) {
    std::cerr << "--mrt " << mrt << " is not this build's mrt (" << MRT_CLI_PATH << ")\n";
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int failures = 0;
  try {
    Server server;
    const std::string api = server.url + "/_matrix/client/v3";
    User sender = login(server.url);
    Call create;
    create.prepare("POST", api + "/createRoom", sender.token, R"({"preset":"public_chat"})");
    const std::string room = create.run()["room_id"];
    std::vector<User> receivers, idlers;
    for (int i = 0; i < members; ++i) {
      receivers.push_back(login(server.url));
      Call join;
      join.prepare("POST", api + "/join/" + encode(room), receivers.back().token, "{}");
      join.run();
    }
    for (auto& r : receivers) {  // past every join, so that the first poll waits
      Call sync;
      sync.prepare("GET", api + "/sync?timeout=0&since=" + r.since, r.token, "");
      r.since = sync.run()["next_batch"];
    }
    for (int i = 0; i < idle; ++i) idlers.push_back(login(server.url));

    // Idle polls and room members in separate multi handles, so that the client's own cost of
    // watching 1,000 idle sockets is not counted as server latency.
    CURLM* multi = curl_multi_init();
    CURLM* idle_multi = curl_multi_init();
    std::map<CURL*, std::pair<std::unique_ptr<Call>, int>> polls;  // -1: idle, else receiver
    auto start_poll = [&](User& u, int who) {
      auto call = std::make_unique<Call>();
      call->prepare("GET", api + "/sync?timeout=60000&since=" + u.since, u.token, "");
      curl_multi_add_handle(who < 0 ? idle_multi : multi, call->easy);
      CURL* easy = call->easy;
      polls[easy] = {std::move(call), who};
    };
    auto pump_multi = [&](CURLM* m, int timeout_ms) {
      int running = 0;
      curl_multi_perform(m, &running);
      curl_multi_poll(m, nullptr, 0, timeout_ms, nullptr);
      curl_multi_perform(m, &running);
    };
    auto pump = [&](int timeout_ms) { pump_multi(multi, timeout_ms); };
    const long rss_before = server.rss_kb();
    for (auto& u : idlers) start_poll(u, -1);
    // Let every idle poll reach the server and wait there.
    for (auto t = Clock::now(); ms_since(t) < 500 + idle;) pump_multi(idle_multi, 10);
    const long rss_after = server.rss_kb();

    std::vector<double> wake, send_rtt, versions_rtt;
    int idle_returned = 0;
    Call send, versions;
    for (int m = 0; m < messages; ++m) {
      for (int r = 0; r < members; ++r) start_poll(receivers[r], r);
      for (auto t = Clock::now(); ms_since(t) < 5;) pump(1);  // they are waiting
      const auto t0 = Clock::now();
      send.prepare("PUT",
                   api + "/rooms/" + encode(room) + "/send/m.room.message/m" + std::to_string(m),
                   sender.token, R"({"msgtype":"m.text","body":"bench"})");
      send.run();
      send_rtt.push_back(ms_since(t0));
      int woken = 0;
      while (woken < members && ms_since(t0) < 5000) {
        pump(5);
        int left = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
          if (msg->msg != CURLMSG_DONE) continue;
          auto it = polls.find(msg->easy_handle);
          curl_multi_remove_handle(multi, msg->easy_handle);
          const int who = it->second.second;
          if (who < 0) {
            ++idle_returned;
          } else {
            wake.push_back(ms_since(t0));
            const Json body = Json::parse(it->second.first->response, nullptr, false);
            if (body.is_object() && body.contains("next_batch"))
              receivers[who].since = body["next_batch"];
            ++woken;
          }
          polls.erase(it);
        }
      }
      if (woken < members) {
        std::cerr << "message " << m << ": only " << woken << " of " << members << " syncs woke\n";
        ++failures;
        break;
      }
      versions.prepare("GET", server.url + "/_matrix/client/versions", "", "");
      const auto v0 = Clock::now();
      versions.run();
      versions_rtt.push_back(ms_since(v0));
    }
    // Throughput: sequential sends, then 32 in flight.
    const int burst = std::max(200, messages);
    auto t_seq = Clock::now();
    for (int i = 0; i < burst; ++i) {
      send.prepare("PUT",
                   api + "/rooms/" + encode(room) + "/send/m.room.message/s" + std::to_string(i),
                   sender.token, R"({"msgtype":"m.text","body":"seq"})");
      send.run();
    }
    const double seq_per_s = burst / (ms_since(t_seq) / 1000);
    std::vector<std::unique_ptr<Call>> inflight;
    CURLM* sends = curl_multi_init();
    auto t_par = Clock::now();
    int next = 0, done = 0;
    auto add_send = [&] {
      auto c = std::make_unique<Call>();
      c->prepare("PUT",
                 api + "/rooms/" + encode(room) + "/send/m.room.message/p" + std::to_string(next++),
                 sender.token, R"({"msgtype":"m.text","body":"par"})");
      curl_multi_add_handle(sends, c->easy);
      inflight.push_back(std::move(c));
    };
    for (int i = 0; i < 32 && next < burst; ++i) add_send();
    while (done < burst) {
      int running = 0, left = 0;
      curl_multi_perform(sends, &running);
      curl_multi_poll(sends, nullptr, 0, 10, nullptr);
      while (CURLMsg* msg = curl_multi_info_read(sends, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        curl_multi_remove_handle(sends, msg->easy_handle);
        ++done;
        if (next < burst) add_send();
      }
    }
    const double par_per_s = burst / (ms_since(t_par) / 1000);
    // Idle polls must all still be waiting.
    pump_multi(idle_multi, 0);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(idle_multi, &left)) {
      if (msg->msg == CURLMSG_DONE) ++idle_returned;
    }
    for (auto& [easy, call] : polls) {
      curl_multi_remove_handle(call.second < 0 ? idle_multi : multi, easy);
    }
    polls.clear();
    inflight.clear();
    curl_multi_cleanup(multi);
    curl_multi_cleanup(idle_multi);
    curl_multi_cleanup(sends);

    std::printf("idle long-polls: %d, room members long-polling: %d, messages: %d\n", idle, members,
                messages);
    std::printf(
        "sync wake-up (send -> sync returns) ms: p50 %.2f  p99 %.2f  max %.2f  (%zu wake-ups)\n",
        percentile(wake, 0.5), percentile(wake, 0.99), percentile(wake, 1.0), wake.size());
    std::printf(
        "send round trip ms: p50 %.2f  p99 %.2f;  GET /versions round trip ms: p50 %.3f  p99 "
        "%.3f\n",
        percentile(send_rtt, 0.5), percentile(send_rtt, 0.99), percentile(versions_rtt, 0.5),
        percentile(versions_rtt, 0.99));
    std::printf("sends/s: %.0f one at a time, %.0f with 32 in flight (%d each)\n", seq_per_s,
                par_per_s, burst);
    if (idle > 0) {
      std::printf(
          "server RSS: %ld KiB before idle polls, %ld KiB with them: %.1f KiB per idle long-poll\n",
          rss_before, rss_after, static_cast<double>(rss_after - rss_before) / idle);
    }
    if (idle_returned) {
      std::printf("idle polls that returned early: %d\n", idle_returned);
      if (check) ++failures;
    }
    if (check && percentile(wake, 1.0) > 5000) ++failures;
  } catch (const std::exception& e) {
    std::cerr << "devserver bench failed: " << e.what() << "\n";
    return 1;
  }
  curl_global_cleanup();
  return failures ? 1 : 0;
}
