#include "testing/test_homeserver.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "testing/server_process.hpp"
#include "testing/synapse_process.hpp"

namespace mrt::testing {

namespace fs = std::filesystem;

HomeserverKind test_homeserver_kind() {
  const char* value = std::getenv("MRT_TEST_HOMESERVER");
  const std::string v = value ? value : "";
  if (v.empty() || v == "devserver") return HomeserverKind::devserver;
  if (v == "synapse") return HomeserverKind::synapse;
  throw std::runtime_error("MRT_TEST_HOMESERVER=" + v + ": expected devserver or synapse");
}

const char* to_string(HomeserverKind kind) {
  return kind == HomeserverKind::synapse ? "synapse" : "devserver";
}

namespace {

// `mrt serve --server-name localhost` on a free port; restarted on that port.
class Devserver final : public TestHomeserver {
 public:
  Devserver(fs::path data_dir, std::vector<std::string> args)
      : data_dir_(std::move(data_dir)), args_(std::move(args)) {
    server_ = std::make_unique<ServerProcess>(data_dir_, args_);
    base_url_ = server_->base_url();
  }

  HomeserverKind kind() const override { return HomeserverKind::devserver; }
  std::string base_url() const override { return base_url_; }
  std::string server_name() const override {
    const auto at = std::find(args_.begin(), args_.end(), "--server-name");
    return at != args_.end() && at + 1 != args_.end() ? *(at + 1) : "localhost";
  }
  void kill_hard() override {
    if (server_) server_->kill_hard();
  }
  void restart() override {
    server_.reset();  // SIGTERM, unless it is dead already
    std::vector<std::string> args = args_;
    args.insert(args.end(), {"--listen", base_url_.substr(base_url_.find("//") + 2)});
    server_ = std::make_unique<ServerProcess>(data_dir_, args);
  }
  bool login_revokes_device_tokens() const override { return true; }

 private:
  fs::path data_dir_;
  std::vector<std::string> args_;
  std::string base_url_;
  std::unique_ptr<ServerProcess> server_;
};

class Synapse final : public TestHomeserver {
 public:
  explicit Synapse(std::unique_ptr<SynapseProcess> process) : process_(std::move(process)) {}

  HomeserverKind kind() const override { return HomeserverKind::synapse; }
  std::string base_url() const override { return process_->base_url(); }
  std::string server_name() const override { return process_->server_name(); }
  void kill_hard() override { process_->kill_hard(); }
  void restart() override { process_->restart(); }
  bool login_revokes_device_tokens() const override { return false; }

 private:
  std::unique_ptr<SynapseProcess> process_;
};

}  // namespace

std::unique_ptr<TestHomeserver> make_test_homeserver(const fs::path& data_dir,
                                                     const std::vector<std::string>& devserver_args,
                                                     HomeserverKind kind) {
  if (kind == HomeserverKind::synapse)
    return std::make_unique<Synapse>(std::make_unique<SynapseProcess>());
  return std::make_unique<Devserver>(data_dir, devserver_args);
}

std::vector<std::unique_ptr<TestHomeserver>> start_synapses(std::size_t n) {
  std::vector<std::unique_ptr<TestHomeserver>> servers;
  for (auto& process : SynapseProcess::start_many(n))
    servers.push_back(std::make_unique<Synapse>(std::move(process)));
  return servers;
}

}  // namespace mrt::testing
