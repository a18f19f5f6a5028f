// A Synapse homeserver for the tests, run through ../shared/synapse/synapse.sh (beside the
// repository): a fresh instance with its own name and free ports on 127.0.0.1, stopped and wiped
// when the object goes. Any two instances federate, so a federation test starts several at once:
//
//   auto servers = SynapseProcess::start_many(3);   // concurrently: about as long as one
//   servers[0]->base_url();      // http://127.0.0.1:CLIENT_PORT
//   servers[0]->server_name();   // 127.0.0.1:FEDERATION_PORT, as in @0x…:127.0.0.1:FEDERATION_PORT
//   servers[1]->kill_hard();     // SIGKILL, then
//   servers[1]->restart();       // the same ports and data again
//
// Instances live in $MRT_SYNAPSE_ROOT (default /tmp/mrt-synapse) as mrt-test-PID-N; each has its
// homeserver.log there. MRT_SYNAPSE_KEEP=1 keeps them (stopped) after the test, for reading.
// An instance whose test process died (a CTest timeout) is wiped by the next one to start.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace mrt::testing {

class SynapseProcess {
 public:
  // Starts a fresh instance and waits until its client and federation APIs answer. Throws
  // std::runtime_error saying what to do when synapse.sh or Synapse itself is missing, and with
  // the script's output when the instance does not start.
  SynapseProcess();
  // `n` fresh instances, started concurrently.
  static std::vector<std::unique_ptr<SynapseProcess>> start_many(std::size_t n);
  ~SynapseProcess();  // SIGKILL and wipe (or keep, with MRT_SYNAPSE_KEEP=1)
  SynapseProcess(const SynapseProcess&) = delete;
  SynapseProcess& operator=(const SynapseProcess&) = delete;

  const std::string& name() const { return name_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  std::string server_name() const { return "127.0.0.1:" + std::to_string(federation_port_); }
  std::filesystem::path dir() const;  // config, SQLite database, homeserver.log
  // The running Synapse's pid (from its pid file), or -1.
  pid_t pid() const;

  // SIGKILL to Synapse, no clean-up; returns once it is gone.
  void kill_hard();
  // Starts it again on the same ports and data (stopping it first if it runs); waits until up.
  void restart();

  // Where synapse.sh and the instances are (the first from MRT_SYNAPSE_SH, else the copy beside
  // the source tree).
  static std::filesystem::path script();
  static std::filesystem::path root();

 private:
  struct Starting;
  explicit SynapseProcess(std::unique_ptr<Starting> starting);
  static std::unique_ptr<Starting> launch();
  void finish(Starting& starting);

  std::string name_;
  int client_port_ = 0;
  int federation_port_ = 0;
};

}  // namespace mrt::testing
