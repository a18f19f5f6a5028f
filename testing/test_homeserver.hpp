// The homeserver a test runs against, whichever it is: `mrt serve` (the fast default) or a
// Synapse, chosen by the environment variable MRT_TEST_HOMESERVER (`devserver` or `synapse`), so
// that one test body runs on both. CTest runs the core node scenarios a second time with
// MRT_TEST_HOMESERVER=synapse (label `synapse`, names prefixed `synapse.`).
//
//   auto hs = make_test_homeserver(dir / "server");  // dir: the devserver's data (Synapse
//   NodeConfig c{.homeserver = hs->base_url(),       //      keeps its own under
//                .server_name = hs->server_name()};  //      $MRT_SYNAPSE_ROOT)
//   hs->kill_hard();                                 // SIGKILL
//   hs->restart();                                   // same port, same data
//
// Several federating homeservers (Synapse only: `mrt serve` does not federate):
//
//   auto servers = start_synapses(3);                // concurrently
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace mrt::testing {

enum class HomeserverKind { devserver, synapse };

// MRT_TEST_HOMESERVER's choice: devserver when unset; throws std::runtime_error on another value.
HomeserverKind test_homeserver_kind();
const char* to_string(HomeserverKind kind);

class TestHomeserver {
 public:
  virtual ~TestHomeserver() = default;  // stops it (and wipes a Synapse)

  virtual HomeserverKind kind() const = 0;
  virtual std::string base_url() const = 0;     // http://127.0.0.1:PORT
  virtual std::string server_name() const = 0;  // "localhost", or "127.0.0.1:PORT" for Synapse
  // SIGKILL, no clean-up.
  virtual void kill_hard() = 0;
  // Runs again on the same port and data (stopped first if it still runs); returns once up.
  virtual void restart() = 0;
  // Whether logging in with an existing device_id invalidates that device's older access tokens,
  // as the Matrix spec says ("Relationship between access tokens and devices"): `mrt serve` does,
  // Synapse 1.67 keeps them valid.
  virtual bool login_revokes_device_tokens() const = 0;
};

// A fresh homeserver of `kind`. `devserver_args` are extra `mrt serve` arguments (the node tests'
// `--rate-limits …`), `data_dir` its store; a Synapse ignores both (synapse.sh raises its rate
// limits and keeps its data in $MRT_SYNAPSE_ROOT). Throws std::runtime_error when it cannot start.
std::unique_ptr<TestHomeserver> make_test_homeserver(
    const std::filesystem::path& data_dir, const std::vector<std::string>& devserver_args = {},
    HomeserverKind kind = test_homeserver_kind());

// `n` fresh Synapses, started concurrently; any two federate.
std::vector<std::unique_ptr<TestHomeserver>> start_synapses(std::size_t n);

}  // namespace mrt::testing
