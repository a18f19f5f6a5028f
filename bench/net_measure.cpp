// The network benchmarks' measuring helpers (net_bench.hpp).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/support/node_benchmark.hpp"
#include "net_bench.hpp"

namespace mrt::bench {

double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

double cpu_seconds_of(pid_t pid) {
  return mrt::cli::proc_stat_cpu_seconds("/proc/" + std::to_string(pid) + "/stat");
}

double rss_mib_of(pid_t pid) {
  std::ifstream in("/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      double kib = 0;
      in >> kib;
      return kib / 1024;
    }
  }
  return 0;
}

std::string body_of(const std::string& tag, std::size_t bytes) {
  std::string b = tag + " ";
  b.resize(std::max(bytes, b.size()), 'x');
  return b;
}

}  // namespace mrt::bench
