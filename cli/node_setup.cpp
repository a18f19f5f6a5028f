#include "node_setup.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <map>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mrt/bytes.hpp>

#include "command.hpp"
#include "keystore_unlock.hpp"

namespace mrt::cli {

using json = nlohmann::json;

const std::set<std::string> kNodeOptions = {"--keystore",
                                            "--password-file",
                                            "--key-file",
                                            "--key-fd",
                                            "--homeserver",
                                            "--data",
                                            "--server-name",
                                            "--carrier",
                                            "--max-age-ms",
                                            "--also-homeservers",
                                            "--homes",
                                            "--failover-after-ms",
                                            "--known-servers",
                                            "--broadcast-server",
                                            "--broadcast-operators",
                                            "--capabilities",
                                            "--log"};
const std::set<std::string> kNodeSwitches = {"--no-fsync", "--json", "--challenge-candidates"};
const char* const kNodeUsage =
    "(--keystore FILE [--password-file F] | --key-file F | --key-fd N) --homeserver URL --data "
    "DIR\n"
    "          [--server-name S] [--carrier room|to_device] [--max-age-ms N] [--no-fsync]\n"
    "          [--also-homeservers NAME=URL,... [--homes K] [--failover-after-ms N]]\n"
    "          [--known-servers NAME,... [--broadcast-server NAME]] [--broadcast-operators "
    "0x...,...]\n"
    "          [--capabilities '{\"Receive\":true,...}'] [--challenge-candidates]\n"
    "          [--log debug|info|warning|error]";

namespace {

// The first line of `fd` (up to 256 bytes; then closed) as a private key; `what` names the
// source in errors.
PrivateKey read_key_from(int fd, const std::string& what) {
  SecretBuffer text(256);
  std::size_t used = 0;
  while (used < text.size()) {
    const ssize_t n = ::read(fd, text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<std::size_t>(n);
  }
  ::close(fd);
  std::size_t end = 0;
  while (end < used && text.data()[end] != '\n') ++end;
  if (end > 0 && text.data()[end - 1] == '\r') --end;
  auto key =
      PrivateKey::from_hex(std::string_view(reinterpret_cast<const char*>(text.data()), end));
  if (!key) {
    throw CommandError(kBadInput, what + ": " + std::string(to_string(key.error())) +
                                      " (expected 64 hex digits, optionally 0x-prefixed)");
  }
  return std::move(*key);
}

// The key file's first line, from a file only its owner may read or write (as ssh asks of
// private keys): checked on the open descriptor, so the file cannot change in between.
PrivateKey read_key_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CommandError(kBadInput, "cannot read " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw CommandError(kBadInput, path + " is not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw CommandError(kKeyRefused, path + " holds a private key but has mode " + mode +
                                        ": others may read it (chmod 600 " + path + ")");
  }
  return read_key_from(fd, path);
}

// --key-fd N: a descriptor the parent process handed over (a pipe, never a file on disk), so
// that the key is in no file and no argv.
PrivateKey read_key_fd(const std::string& number) {
  int fd = -1;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), fd);
  if (ec != std::errc() || end != number.data() + number.size() || fd < 3)
    throw UsageError("--key-fd wants a descriptor number of 3 or more");
  if (::fcntl(fd, F_GETFD) < 0)
    throw CommandError(kBadInput, "--key-fd " + number + ": not an open descriptor");
  return read_key_from(fd, "--key-fd " + number);
}

ExitCode exit_code_of(NodeErrorKind kind) {
  switch (kind) {
    case NodeErrorKind::bad_config:
      return kUsage;
    case NodeErrorKind::store:
      return kStoreRefused;
    default:
      return kStartFailed;
  }
}

// "hs2=http://127.0.0.1:8009,hs3=https://…" -> the homeservers, each named.
std::vector<Homeserver> homeserver_list(const std::string& text) {
  std::vector<Homeserver> list;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      throw UsageError("--also-homeservers wants NAME=URL items separated by commas, not \"" +
                       item + "\"");
    list.push_back({item.substr(eq + 1), item.substr(0, eq)});
    at = comma + 1;
  }
  return list;
}

// "a,b,c" -> {"a", "b", "c"}; an empty item is refused.
std::vector<std::string> comma_list(const std::string& option, const std::string& text) {
  std::vector<std::string> items;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    if (comma == at) throw UsageError(option + " wants items separated by commas, none empty");
    items.push_back(text.substr(at, comma - at));
    at = comma + 1;
  }
  return items;
}

}  // namespace

PrivateKey node_key(const Args& args) {
  const auto key_file = args.get("--key-file");
  const auto key_fd = args.get("--key-fd");
  const auto keystore = args.get("--keystore");
  if (int(key_file.has_value()) + int(key_fd.has_value()) + int(keystore.has_value()) > 1)
    throw UsageError("give one of --keystore, --key-file and --key-fd");
  if ((key_file || key_fd) && args.get("--password-file"))
    throw UsageError("--password-file goes with --keystore");
  if (key_file) return read_key_file(*key_file);
  if (key_fd) return read_key_fd(*key_fd);
  if (!keystore) throw UsageError("--keystore (or --key-file, --key-fd) is required");
  return unlock_keystore(*keystore, args.get("--password-file"));
}

std::int64_t int_option(const Args& args, const std::string& name, std::int64_t fallback,
                        std::int64_t min, std::int64_t max) {
  const auto text = args.get(name);
  if (!text) return fallback;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < min || value > max) {
    throw UsageError(name + " wants an integer from " + std::to_string(min) + " to " +
                     std::to_string(max));
  }
  return value;
}

NodeConfig node_config(const Args& args) {
  NodeConfig config;
  config.homeserver = args.require("--homeserver");
  config.data_dir = args.require("--data");
  config.server_name = args.get("--server-name").value_or("");
  const std::string carrier = args.get("--carrier").value_or("room");
  if (carrier == "room") {
    config.carrier = Carrier::room;
  } else if (carrier == "to_device") {
    config.carrier = Carrier::to_device;
  } else {
    throw UsageError("--carrier is room or to_device");
  }
  config.limits.max_age_ms =
      int_option(args, "--max-age-ms", config.limits.max_age_ms, 1000, std::int64_t{1} << 53);
  if (auto more = args.get("--also-homeservers")) config.homeservers = homeserver_list(*more);
  config.homes = static_cast<std::size_t>(
      int_option(args, "--homes", 1, 1, static_cast<std::int64_t>(config.homeservers.size()) + 1));
  config.failover_after = std::chrono::milliseconds(int_option(
      args, "--failover-after-ms", config.failover_after.count(), 100, std::int64_t{1} << 40));
  if (auto known = args.get("--known-servers"))
    config.known_servers = comma_list("--known-servers", *known);
  config.broadcast_server = args.get("--broadcast-server").value_or("");
  if (auto operators = args.get("--broadcast-operators")) {
    config.broadcast_operators.emplace();
    for (const auto& item : comma_list("--broadcast-operators", *operators)) {
      auto a = Address::parse_checksummed(item);
      if (!a) throw UsageError("--broadcast-operators: not an address: " + item);
      config.broadcast_operators->insert(*a);
    }
  }
  if (auto caps = args.get("--capabilities")) {
    auto parsed = json::parse(*caps, nullptr, false);
    auto read = capabilities_from_json(parsed);
    if (parsed.is_discarded() || !read)
      throw UsageError("--capabilities wants a JSON object of strings, booleans and integers (" +
                       std::string(parsed.is_discarded() ? "not JSON" : to_string(read.error())) +
                       ")");
    config.capabilities = std::move(*read);
  }
  config.challenge_candidates = args.has("--challenge-candidates");
  if (args.has("--no-fsync")) config.durability = store::Durability::off;
  if (auto level = args.get("--log")) {
    const auto named = log_level_named(*level);
    if (!named) throw UsageError("--log is debug, info, warning or error");
    config.log_level = *named;
    // On stderr, one JSON object per line: stdout is the event stream.
    config.on_log = [](const LogRecord& r) {
      std::cerr << json{{"log", std::string(to_string(r.level))},
                        {"component", r.component},
                        {"event", r.event},
                        {"fields", r.fields}}
                       .dump(-1, ' ', false, json::error_handler_t::replace)
                << std::endl;
    };
  }
  return config;
}

Node open_and_start(NodeConfig config, const PrivateKey& key) {
  const bool guessed_server_name = config.server_name.empty();
  auto node = Node::open(std::move(config), key);
  if (!node) throw CommandError(exit_code_of(node.error().kind), node.error().message);
  if (auto started = node->start(); !started) {
    std::string message = started.error().message;
    if (started.error().kind == NodeErrorKind::login && guessed_server_name) {
      message +=
          " (the server name was taken from the homeserver URL's host; give the "
          "homeserver's own with --server-name)";
    }
    throw CommandError(exit_code_of(started.error().kind), message);
  }
  return std::move(*node);
}

json event_json(const NodeEvent& event) {
  const json id = event.id.empty() ? json(nullptr) : json(event.id);
  const json peer = event.peer ? json(event.peer->to_hex()) : json(nullptr);
  const json carrier = event.carrier ? json(to_string(*event.carrier)) : json(nullptr);
  // Messages and rejections from a broadcast room name its topic (and have no carrier).
  const auto with_topic = [&](json e) {
    if (event.topic) e["topic"] = *event.topic;
    return e;
  };
  switch (event.type) {
    case NodeEventType::message:
      return with_topic({{"event", "message"},
                         {"id", id},
                         {"from", peer},
                         {"body", event.body},
                         {"ts", event.ts},
                         {"carrier", carrier}});
    case NodeEventType::delivered:
    case NodeEventType::failed:
      return {{"event", to_string(event.type)}, {"id", id}, {"to", peer}};
    case NodeEventType::rejected:
      return with_topic({{"event", "rejected"},
                         {"reason", event.reason ? json(to_string(*event.reason)) : json(nullptr)},
                         {"id", id},
                         {"from", peer},
                         {"carrier", carrier}});
    case NodeEventType::reachability:
      return {{"event", "reachability"},
              {"address", peer},
              {"state", event.reachability ? json(to_string(*event.reachability)) : json(nullptr)}};
    case NodeEventType::squatted:
      return with_topic({{"event", "squatted"}, {"detail", event.detail}});
    case NodeEventType::store_failed:
      return {{"event", "store_failed"}, {"detail", event.detail}};
  }
  return {{"event", to_string(event.type)}, {"id", id}};
}

json started_json(const Node& node) {
  json homes = json::array();
  for (const auto& h : node.homes())
    homes.push_back({{"server_name", h.server_name},
                     {"url", h.url},
                     {"user_id", h.user_id},
                     {"device_id", h.device_id},
                     {"rtt_ms", h.rtt_ms}});
  return {{"event", "started"},
          {"address", node.address().to_hex()},
          {"user_id", node.user_id()},
          {"device_id", node.device_id()},
          {"homes", homes}};
}

std::string json_line(const json& object) {
  return object.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

StopSignals::StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &set, &saved_);
  fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd_ < 0) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));
}

StopSignals::~StopSignals() {
  ::close(fd_);
  ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
}

bool StopSignals::received(int wait_ms) {
  if (received_) return true;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, wait_ms) > 0) {
    signalfd_siginfo info;
    while (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) received_ = true;
  }
  return received_;
}

}  // namespace mrt::cli
