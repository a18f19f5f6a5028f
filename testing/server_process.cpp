#include "testing/server_process.hpp"

#include <algorithm>
#include <cstdio>
#include <signal.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace mrt::testing {

ServerProcess::ServerProcess(const std::filesystem::path& data_dir,
                             const std::vector<std::string>& extra) {
  std::vector<std::string> args = {MRT_CLI_PATH, "serve", "--data", data_dir.string()};
  // A test with two homeservers names the second with its own --server-name.
  if (std::find(extra.begin(), extra.end(), "--server-name") == extra.end()) {
    args.insert(args.end(), {"--server-name", "localhost"});
  }
  // A test that restarts a server on the port it had passes its own --listen.
  if (std::find(extra.begin(), extra.end(), "--listen") == extra.end()) {
    args.insert(args.end(), {"--listen", "127.0.0.1:0"});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::close(out[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  // The first line is "listening on http://127.0.0.1:PORT".
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
  ::close(out[0]);
  const std::string prefix = "listening on ";
  if (!line.starts_with(prefix)) {
    kill_hard();
    throw std::runtime_error("mrt serve did not start: '" + line + "'");
  }
  base_url_ = line.substr(prefix.size());
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) terminate();
}

void ServerProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ServerProcess::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

}  // namespace mrt::testing
