// What a Fleet's nodes reported, for the network benchmarks to wait on: `message` events keyed
// by their body (the benchmarks make every body unique) and `delivered` events by message id,
// each with the node that reported it and when it arrived. Thread-safe: a Fleet's sink adds,
// the benchmark's thread waits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <mrt/node.hpp>

#include "net_fleet.hpp"

namespace mrt::bench {

struct Receipt {
  std::size_t node;
  Clock::time_point at;
  std::optional<Carrier> carrier;  // unicast messages only
};

class Receipts {
 public:
  static std::string message_key(const std::string& body) { return "m:" + body; }
  static std::string delivered_key(const std::string& id) { return "d:" + id; }

  // A Fleet sink: keeps message and delivered events, counts rejected ones.
  void add(std::size_t node, const NodeEvent& e, Clock::time_point at) {
    std::lock_guard lock(mutex_);
    if (e.type == NodeEventType::message) {
      by_key_[message_key(e.body)].push_back({node, at, e.carrier});
    } else if (e.type == NodeEventType::delivered) {
      by_key_[delivered_key(e.id)].push_back({node, at, std::nullopt});
    } else if (e.type == NodeEventType::rejected || e.type == NodeEventType::failed) {
      ++rejected_or_failed_;
    }
    changed_.notify_all();
  }
  EventSink sink() {
    return [this](std::size_t node, const NodeEvent& e, Clock::time_point at) { add(node, e, at); };
  }

  // The receipts of `key` once there are `n`; throws std::runtime_error after `patience`.
  std::vector<Receipt> wait(const std::string& key, std::size_t n,
                            std::chrono::milliseconds patience) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, patience, [&] { return by_key_[key].size() >= n; }))
      throw std::runtime_error("timed out waiting for " + key);
    return by_key_[key];
  }
  std::vector<Receipt> of(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = by_key_.find(key);
    return it == by_key_.end() ? std::vector<Receipt>{} : it->second;
  }
  std::size_t rejected_or_failed() {
    std::lock_guard lock(mutex_);
    return rejected_or_failed_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::vector<Receipt>> by_key_;
  std::size_t rejected_or_failed_ = 0;
};

}  // namespace mrt::bench
