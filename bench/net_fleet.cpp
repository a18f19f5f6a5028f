#include "net_fleet.hpp"

#include <atomic>
#include <stdexcept>
#include <thread>

namespace mrt::bench {

namespace {

// Runs f(i) for i in [first, last) on `parallel` threads.
void for_each_parallel(std::size_t first, std::size_t last, std::size_t parallel,
                       const std::function<void(std::size_t)>& f) {
  std::atomic<std::size_t> next{first};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < std::max<std::size_t>(1, parallel); ++t) {
    threads.emplace_back([&] {
      for (std::size_t i; (i = next++) < last;) f(i);
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace

Fleet::Fleet(FleetOptions options) : options_(std::move(options)) {}

Fleet::~Fleet() {
  for_each_parallel(0, nodes_.size(), 16, [&](std::size_t i) {
    if (nodes_[i]) nodes_[i]->stop();
  });
}

void Fleet::grow(std::size_t count, std::size_t parallel) {
  const std::size_t first = nodes_.size();
  nodes_.resize(first + count);
  std::mutex failure_mutex;
  std::string failure;
  for_each_parallel(first, first + count, parallel, [&](std::size_t i) {
    NodeConfig c;
    c.homeserver = options_.homeserver;
    c.server_name = "localhost";
    c.data_dir = options_.root / ("n" + std::to_string(i));
    c.carrier = options_.carrier;
    c.durability = options_.durability;
    // The benchmark's own load must not meet the spam budget (default 200/s per sender) or the
    // verification gate (2,000/s for all senders).
    c.policy.rate_per_second = 1e9;
    c.policy.burst = 1e9;
    c.policy.max_verified_per_second = 1e9;
    c.on_event = [this, i](const NodeEvent& e) { deliver(i, e); };
    auto node = Node::open(std::move(c), PrivateKey::generate());
    std::string why;
    if (!node) {
      why = node.error().message;
    } else if (auto started = node->start(); !started) {
      why = started.error().message;
    } else {
      nodes_[i] = std::make_unique<Node>(std::move(*node));
      return;
    }
    std::lock_guard lock(failure_mutex);
    failure = "node " + std::to_string(i) + ": " + why;
  });
  if (!failure.empty()) throw std::runtime_error(failure);
}

void Fleet::set_sink(EventSink sink) {
  std::lock_guard lock(sink_mutex_);
  sink_ = std::move(sink);
}

void Fleet::deliver(std::size_t node, const NodeEvent& e) {
  const auto at = Clock::now();
  std::lock_guard lock(sink_mutex_);
  if (sink_) sink_(node, e, at);
}

}  // namespace mrt::bench
