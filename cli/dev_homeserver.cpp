#include "dev_homeserver.hpp"

#include <algorithm>
#include <stdexcept>
#include <system_error>

#include "command.hpp"
#include "devserver/homeserver.hpp"
#include "devserver/http_server.hpp"

namespace mrt::cli {
namespace {

namespace fs = std::filesystem;

std::vector<pid_t> task_ids() {
  std::vector<pid_t> ids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/self/task", ec)) {
    try {
      ids.push_back(static_cast<pid_t>(std::stol(entry.path().filename().string())));
    } catch (const std::exception&) {
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

InProcessHomeserver::InProcessHomeserver(const fs::path& data_dir, const Options& options) {
  const std::vector<pid_t> before = task_ids();
  devserver::Config config;
  config.server_name = "localhost";
  config.data_dir = data_dir;
  if (!options.rate_limits.empty()) {
    if (auto error = config.rate_limits.parse(options.rate_limits))
      throw CommandError(kBadInput, "the dev homeserver's rate limits: " + *error);
  }
  auto opened = devserver::Homeserver::open(config);
  if (!opened) throw CommandError(kBadInput, "the dev homeserver: " + opened.error());
  homeserver_ = std::move(*opened);
  devserver::HttpOptions http;
  http.host = "127.0.0.1";
  http.port = 0;
  try {
    server_ = std::make_unique<devserver::HttpServer>(*homeserver_, http);
  } catch (const std::runtime_error& e) {
    throw CommandError(kBadInput, std::string("the dev homeserver: ") + e.what());
  }
  url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  thread_ = std::thread([this] { server_->run(); });
  const std::vector<pid_t> after = task_ids();
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(threads_));
}

InProcessHomeserver::~InProcessHomeserver() {
  server_->stop();
  thread_.join();
  // As in `mrt serve`: the store finishes its writes while the stopped loop still exists.
  homeserver_.reset();
  server_.reset();
}

}  // namespace mrt::cli
