// `mrt node` as a child process driven over its JSON lines: ops written to its stdin, events
// read from its stdout (stderr goes to a file), for the CLI node tests.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <poll.h>
#include <signal.h>
#include <stdexcept>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/bytes.hpp>
#include <mrt/eth.hpp>

namespace mrt::testing {

// Writes `key` as 0x hex to `file` with `mode` (`mrt node --key-file`, faster than a keystore).
inline void write_key_file(const std::filesystem::path& file, const PrivateKey& key,
                           mode_t mode = 0600) {
  std::string hex = to_0x_hex(key.secret());
  std::ofstream(file) << hex << "\n";
  wipe(hex);
  ::chmod(file.c_str(), mode);
}

class NodeProcess {
 public:
  using json = nlohmann::json;
  using Clock = std::chrono::steady_clock;

  // Runs `mrt ARGS…` with stdin and stdout on pipes and stderr appended to `stderr_file`.
  NodeProcess(const std::vector<std::string>& args, const std::filesystem::path& stderr_file)
      : stderr_file_(stderr_file) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe failed");
    }
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::setsid();
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test killed on timeout leaves no node behind
      const int err = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(err, 2);
      std::vector<char*> argv = {const_cast<char*>(MRT_CLI_PATH)};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(MRT_CLI_PATH, argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    ::signal(SIGPIPE, SIG_IGN);  // a node that exits early must not kill the test
  }
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  ~NodeProcess() {
    close_stdin();
    if (stdout_ >= 0) ::close(stdout_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }
  const std::filesystem::path& stderr_file() const { return stderr_file_; }

  void write_line(const std::string& line) {
    const std::string text = line + "\n";
    for (std::size_t done = 0; done < text.size();) {
      const ssize_t n = ::write(stdin_, text.data() + done, text.size() - done);
      if (n <= 0) throw std::runtime_error("writing to mrt node failed");
      done += static_cast<std::size_t>(n);
    }
  }
  void write(const json& op) { write_line(op.dump()); }
  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }

  // The next stdout line, parsed; nullopt on timeout (0: only what has come already) or EOF. Every
  // line read is also kept in `lines()`; a line that is not JSON throws.
  std::optional<json> next(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
        const std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        lines_.push_back(line);
        return json::parse(line);
      }
      if (eof_) return std::nullopt;
      const auto left = std::max<std::int64_t>(
          0,
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) {
        if (left == 0) return std::nullopt;  // a zero timeout still reads what is there
        continue;
      }
      char chunk[65536];
      const ssize_t n = ::read(stdout_, chunk, sizeof chunk);
      if (n <= 0) {
        eof_ = true;
        continue;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // The first event matching `want`, skipping (and keeping in `skipped()`) the others.
  std::optional<json> wait_for(const std::function<bool(const json&)>& want,
                               std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    for (std::size_t i = 0; i < skipped_.size(); ++i) {
      if (want(skipped_[i])) {
        json found = skipped_[i];
        skipped_.erase(skipped_.begin() + static_cast<std::ptrdiff_t>(i));
        return found;
      }
    }
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto event =
          next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
      if (!event) return std::nullopt;
      if (want(*event)) return event;
      skipped_.push_back(*event);
    }
    return std::nullopt;
  }
  std::optional<json> wait_event(const std::string& name,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return wait_for([&](const json& e) { return e.value("event", "") == name; }, timeout);
  }

  // The exit status (128 + signal when killed), or nullopt if it is still running then.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (Clock::now() >= deadline) return std::nullopt;
      ::usleep(10'000);
    }
    return std::nullopt;
  }

  void signal(int sig) { ::kill(pid_, sig); }
  const std::vector<std::string>& lines() const { return lines_; }
  const std::vector<json>& skipped() const { return skipped_; }

 private:
  std::filesystem::path stderr_file_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  std::string buffer_;
  bool eof_ = false;
  std::vector<std::string> lines_;
  std::vector<json> skipped_;
};

}  // namespace mrt::testing
