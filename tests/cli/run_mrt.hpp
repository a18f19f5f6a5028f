#pragma once

#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace mrt::testing {

struct Run {
  int exit_code;
  std::string out;
  std::string err;
};

// Runs the mrt binary in its own session (so it has no terminal to prompt on) and collects
// its exit code, stdout and stderr. `fd3`: what the child reads on descriptor 3 (a pipe).
inline Run run_mrt(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                   const std::string* fd3 = nullptr) {
  const std::filesystem::path out = cwd / ".stdout", err = cwd / ".stderr";
  int pipe_fds[2] = {-1, -1};
  if (fd3) {
    if (::pipe(pipe_fds) != 0) return {126, "", "pipe failed"};
    if (::write(pipe_fds[1], fd3->data(), fd3->size()) != static_cast<ssize_t>(fd3->size()))
      return {126, "", "write to the pipe failed"};
    ::close(pipe_fds[1]);
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (fd3) ::dup2(pipe_fds[0], 3);
    ::setsid();
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int in = ::open("/dev/null", O_RDONLY);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::dup2(in, 0);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    std::vector<char*> argv = {const_cast<char*>(MRT_CLI_PATH)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(MRT_CLI_PATH, argv.data());
    ::_exit(127);
  }
  if (fd3) ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(out), slurp(err)};
}

}  // namespace mrt::testing
