// `mrt serve` as a child process on a free port of 127.0.0.1, for the devserver tests.
#pragma once

#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

namespace mrt::testing {

class ServerProcess {
 public:
  // Starts `mrt serve --server-name localhost --listen 127.0.0.1:0 --data DIR` plus `extra`
  // (an `extra` holding `--listen HOST:PORT` or `--server-name NAME` replaces that default) and
  // waits for its "listening on" line. Throws std::runtime_error on failure.
  ServerProcess(const std::filesystem::path& data_dir, const std::vector<std::string>& extra = {});
  ~ServerProcess();  // SIGTERM, then waits

  const std::string& base_url() const { return base_url_; }
  pid_t pid() const { return pid_; }
  // SIGKILL, no clean-up: for the crash test.
  void kill_hard();
  // SIGTERM and the exit status (for the clean-shutdown test).
  int terminate();

 private:
  pid_t pid_ = -1;
  std::string base_url_;
};

}  // namespace mrt::testing
