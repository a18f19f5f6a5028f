// The dev homeserver (devserver/) on 127.0.0.1 inside this process, as `mrt demo` and
// `mrt bench` run it: a port chosen by the kernel, served by a thread of its own.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace mrt::devserver {
class Homeserver;
class HttpServer;
}  // namespace mrt::devserver

namespace mrt::cli {

class InProcessHomeserver {
 public:
  struct Options {
    // `mrt serve --rate-limits` syntax ("send=0,login=0" lifts those); empty: the defaults.
    std::string rate_limits;
  };

  // Server name "localhost", data in `data_dir`. Throws CommandError (kBadInput) when it
  // cannot start.
  explicit InProcessHomeserver(const std::filesystem::path& data_dir, const Options& options = {});
  ~InProcessHomeserver();
  InProcessHomeserver(const InProcessHomeserver&) = delete;
  InProcessHomeserver& operator=(const InProcessHomeserver&) = delete;

  const std::string& url() const { return url_; }
  // The kernel's ids of the threads that started while it opened (its store's writer and its
  // HTTP thread), for telling its CPU time from the rest of the process's.
  const std::vector<pid_t>& threads() const { return threads_; }

 private:
  std::unique_ptr<devserver::Homeserver> homeserver_;
  std::unique_ptr<devserver::HttpServer> server_;
  std::string url_;
  std::thread thread_;
  std::vector<pid_t> threads_;
};

}  // namespace mrt::cli
