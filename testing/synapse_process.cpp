#include "testing/synapse_process.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <random>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <mrt/bytes.hpp>
#include <mrt/matrix_signing.hpp>

namespace mrt::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : fallback;
}

bool keep_instances() {
  return env_or("MRT_SYNAPSE_KEEP", "") == "1";
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::string tail(const fs::path& file, std::size_t lines) {
  const std::string text = read_file(file);
  std::size_t at = text.size();
  for (std::size_t n = 0; at > 0 && n <= lines; --at)
    if (text[at - 1] == '\n') ++n;
  return text.substr(at);
}

// Whether `pid` runs this instance's Synapse (synapse.sh's `ours`: guards against pid reuse).
bool runs_instance(pid_t pid, const fs::path& dir) {
  if (pid <= 0) return false;
  std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : cmdline)
    if (c == '\0') c = ' ';
  return cmdline.find("--config-path " + (dir / "homeserver.yaml").string()) != std::string::npos;
}

pid_t pid_in(const fs::path& dir) {
  std::ifstream in(dir / "pid");
  pid_t pid = -1;
  return in >> pid ? pid : -1;
}

// Gone, or a zombie nobody has reaped yet (it holds no port and no file any more).
bool gone(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return stat.empty() || paren == std::string::npos || stat.find(" Z ", paren) == paren + 1;
}

void kill_and_wait(pid_t pid) {
  ::kill(pid, SIGKILL);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!gone(pid) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
}

// `count` distinct free ports of 127.0.0.1 (each bound to port 0, all held until every one is
// known, then released for Synapse to take).
std::vector<int> free_ports(std::size_t count) {
  std::vector<int> fds, ports;
  for (std::size_t i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      for (int f : fds) ::close(f);
      throw std::runtime_error("no free port on 127.0.0.1");
    }
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) ::close(fd);
  return ports;
}

// Runs `synapse.sh ARGS…` with stdin from /dev/null and its output appended to `log`; returns
// its pid.
pid_t spawn_script(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> argv_strings = {SynapseProcess::script().string()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  // Everything the child needs is made before fork(): other threads may hold malloc's lock.
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log_path = log.string();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    // Synapse outlives the script: it must not hold the test's pipes, sockets or stores.
    ::close_range(3, ~0U, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run_script(const std::vector<std::string>& args, const fs::path& log) {
  return wait_exit(spawn_script(args, log));
}

// What synapse.sh printed, and what Synapse logged last.
std::string diagnosis(const fs::path& dir) {
  std::string text = "synapse.sh said:\n" + tail(dir / "synapse.sh.log", 20);
  if (fs::exists(dir / "stdout.log")) text += "\nstdout.log:\n" + tail(dir / "stdout.log", 10);
  if (fs::exists(dir / "homeserver.log"))
    text += "\nhomeserver.log:\n" + tail(dir / "homeserver.log", 10);
  return text;
}

// Another process took one of the ports between our check and Synapse's bind.
bool lost_a_port(int exit_code, const fs::path& dir) {
  if (exit_code == 3) return true;  // synapse.sh: "port N is in use"
  for (const char* log : {"stdout.log", "homeserver.log"})
    if (read_file(dir / log).find("Address already in use") != std::string::npos) return true;
  return false;
}

void wipe(const std::string& name) {
  const fs::path dir = SynapseProcess::root() / name;
  if (keep_instances()) {
    std::fprintf(stderr, "[synapse] kept %s\n", dir.c_str());
    return;
  }
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

// Instances of test processes that died without wiping them (killed on a CTest timeout): their
// Synapse would run on forever.
void sweep_orphans() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (keep_instances()) return;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(SynapseProcess::root(), ec)) {
      const std::string n = entry.path().filename().string();
      if (!n.starts_with("mrt-test-")) continue;
      const pid_t owner = static_cast<pid_t>(std::atol(n.c_str() + 9));
      if (owner <= 0 || owner == ::getpid() || !gone(owner)) continue;
      if (const pid_t pid = pid_in(entry.path()); runs_instance(pid, entry.path()))
        kill_and_wait(pid);
      fs::remove_all(entry.path(), ec);
    }
  });
}

// A server signing key in the format Synapse reads ("ed25519 a_XXXX <unpadded base64 seed>"),
// written before synapse.sh runs so that it skips `--generate-keys` (a second Python start,
// about 1.4 s of CPU).
void write_signing_key(const fs::path& file) {
  std::random_device random;
  Bytes seed(32);
  for (auto& b : seed) b = static_cast<std::uint8_t>(random());
  static constexpr char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string version = "a_";
  for (int i = 0; i < 4; ++i) version.push_back(kAlnum[random() % (sizeof kAlnum - 1)]);
  std::ofstream(file) << "ed25519 " << version << " " << base64_unpadded(seed) << "\n";
  ::chmod(file.c_str(), 0600);
}

}  // namespace

// One `synapse.sh start` under way.
struct SynapseProcess::Starting {
  std::string name;
  int client_port = 0, federation_port = 0;
  pid_t script = -1;

  fs::path dir() const { return root() / name; }

  void spawn() {
    fs::create_directories(dir());
    if (!fs::exists(dir() / "signing.key")) write_signing_key(dir() / "signing.key");
    script =
        spawn_script({"start", name, std::to_string(client_port), std::to_string(federation_port)},
                     dir() / "synapse.sh.log");
  }

  // A failed start left nothing worth keeping: the next attempt begins from scratch.
  ~Starting() {
    if (script > 0) wait_exit(script);
    if (!name.empty()) {
      if (const pid_t pid = pid_in(dir()); runs_instance(pid, dir())) kill_and_wait(pid);
      wipe(name);
    }
  }
};

fs::path SynapseProcess::script() {
  return fs::path(env_or("MRT_SYNAPSE_SH", MRT_SYNAPSE_SH)).lexically_normal();
}

fs::path SynapseProcess::root() {
  return env_or("MRT_SYNAPSE_ROOT", "/tmp/mrt-synapse");
}

fs::path SynapseProcess::dir() const {
  return root() / name_;
}

pid_t SynapseProcess::pid() const {
  const pid_t pid = pid_in(dir());
  return runs_instance(pid, dir()) ? pid : -1;
}

std::unique_ptr<SynapseProcess::Starting> SynapseProcess::launch() {
  if (::access(script().c_str(), X_OK) != 0) {
    throw std::runtime_error(script().string() +
                             " is missing: the Synapse tests need the shared folder beside the "
                             "repository (or MRT_SYNAPSE_SH naming another synapse.sh)");
  }
  if (::access((root() / "venv/bin/python").c_str(), X_OK) != 0) {
    throw std::runtime_error("Synapse is not installed in " + root().string() +
                             ": run ../shared/synapse/synapse.sh install (from the repository "
                             "root, about a minute) or scripts/dev test");
  }
  sweep_orphans();
  static std::atomic<int> counter{0};
  auto starting = std::make_unique<Starting>();
  starting->name = "mrt-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  return starting;
}

std::vector<std::unique_ptr<SynapseProcess>> SynapseProcess::start_many(std::size_t n) {
  std::vector<std::unique_ptr<Starting>> starting;
  const std::vector<int> ports = free_ports(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    starting.push_back(launch());
    starting.back()->client_port = ports[2 * i];
    starting.back()->federation_port = ports[2 * i + 1];
    starting.back()->spawn();
  }
  std::vector<std::unique_ptr<SynapseProcess>> servers;
  for (auto& s : starting)
    servers.push_back(std::unique_ptr<SynapseProcess>(new SynapseProcess(std::move(s))));
  return servers;
}

SynapseProcess::SynapseProcess()
    : SynapseProcess([] {
        auto s = launch();
        const auto ports = free_ports(2);
        s->client_port = ports[0];
        s->federation_port = ports[1];
        s->spawn();
        return s;
      }()) {}

SynapseProcess::SynapseProcess(std::unique_ptr<Starting> starting) {
  finish(*starting);
}

void SynapseProcess::finish(Starting& s) {
  for (int attempt = 1;; ++attempt) {
    const int code = wait_exit(s.script);
    s.script = -1;
    if (code == 0) break;
    if (attempt < 4 && lost_a_port(code, s.dir())) {
      if (const pid_t pid = pid_in(s.dir()); runs_instance(pid, s.dir())) kill_and_wait(pid);
      std::error_code ignored;
      fs::remove_all(s.dir(), ignored);
      const auto ports = free_ports(2);
      s.client_port = ports[0];
      s.federation_port = ports[1];
      s.spawn();
      continue;
    }
    throw std::runtime_error("Synapse " + s.name + " did not start (synapse.sh exit " +
                             std::to_string(code) + ")\n" + diagnosis(s.dir()));
  }
  name_ = s.name;
  client_port_ = s.client_port;
  federation_port_ = s.federation_port;
  s.name.clear();  // ours now
}

SynapseProcess::~SynapseProcess() {
  if (name_.empty()) return;
  kill_hard();
  wipe(name_);
}

void SynapseProcess::kill_hard() {
  if (const pid_t p = pid(); p > 0) kill_and_wait(p);
}

void SynapseProcess::restart() {
  const fs::path log = dir() / "synapse.sh.log";
  if (pid() > 0 && run_script({"stop", name_}, log) != 0)
    throw std::runtime_error("synapse.sh stop " + name_ + " failed\n" + diagnosis(dir()));
  // The same ports as before (clients know the URL): a port the killed instance held can show as
  // listening for a moment after it is gone (seen once in 20 runs), so wait for it a little.
  int code = 0;
  for (int attempt = 0; attempt < 30; ++attempt) {
    code = run_script(
        {"start", name_, std::to_string(client_port_), std::to_string(federation_port_)}, log);
    if (code != 3) break;  // synapse.sh: "port N is in use"
    std::this_thread::sleep_for(100ms);
  }
  if (code != 0) {
    throw std::runtime_error("Synapse " + name_ + " did not start again (synapse.sh exit " +
                             std::to_string(code) + ")\n" + diagnosis(dir()));
  }
}

}  // namespace mrt::testing
