// An HTTP/1.1 proxy between one client under test and `mrt serve`, for tests that must see
// what the client asked and what it was answered: each client connection gets its own
// keep-alive connection upstream, every request and answer is forwarded unchanged, the path of
// every request is kept, and /sync answers are read for the m.room.member events they carry.
// A thread per connection (blocking Beast); fine for one node's handful of connections.
//
//   CountingProxy proxy(server.base_url());
//   config.homeserver = proxy.base_url();                   // the node talks through it
//   EXPECT_EQ(proxy.requests_to("/members"), 0u);
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mrt::testing {

class CountingProxy {
 public:
  // `upstream`: "http://127.0.0.1:PORT". Listens on a free port of 127.0.0.1.
  explicit CountingProxy(const std::string& upstream);
  ~CountingProxy();  // closes every connection, joins every thread
  CountingProxy(const CountingProxy&) = delete;
  CountingProxy& operator=(const CountingProxy&) = delete;

  std::string base_url() const;
  // Requests so far whose path (the query left out) contains `part`.
  std::size_t requests_to(std::string_view part) const;
  std::vector<std::string> paths() const;
  // m.room.member events that /sync answers so far carried for `room_id` (rooms.join: state and
  // timeline), and the largest such answer, in bytes.
  std::size_t member_events_synced(const std::string& room_id) const;
  std::size_t largest_sync_bytes() const;
  // The most user ids one /sync answer listed in device_lists.changed.
  std::size_t largest_device_list_change() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mrt::testing
