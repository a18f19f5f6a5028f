// transport/oversized_element_filter.hpp (internal): drops the elements of one JSON array that are
// larger than a limit while an HTTP body streams in, so that they never count against the
// response cap nor take memory. The /sync answer's `to_device.events` is the one: a homeserver
// hands over up to 100 to-device messages per answer, Synapse takes them up to 12.5 MiB each, and
// an answer over the cap would be asked for again forever (issue 17, row 1). No mrt payload comes
// near the limit (an Olm message is at most 64 KiB), so only what no peer should send is dropped.
//
// A scanner, not a parser: it follows strings, escapes and nesting to find the array (by the
// object keys leading to it from the root) and its elements' bounds, and passes every other byte
// through unchanged. Malformed input stays malformed (the JSON parser after it says so); the
// filter itself never fails, and holds at most `max_element_bytes` of a dropped element.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mrt::transport {

// Which array's elements an answer may drop, and above what size (HttpRequest, MatrixCall).
struct OversizedElements {
  std::vector<std::string> array_path;  // object keys from the root: {"to_device", "events"}
  std::size_t max_element_bytes = 0;
};

class OversizedElementFilter {
 public:
  explicit OversizedElementFilter(OversizedElements what);

  // Appends `chunk`'s bytes, less those of dropped elements, to `out`.
  void feed(std::string_view chunk, std::string& out);
  std::size_t dropped() const { return dropped_; }

 private:
  struct Frame {
    bool object = false;
    bool expecting_key = false;  // an object's next string is a key
    std::string key;             // the object's current key (the first 64 bytes of it)
  };
  bool at_target() const;  // directly inside the array the path names
  void open_element(std::string& out);
  void close_element();
  void track(char c);

  std::vector<std::string> path_;
  std::size_t max_element_bytes_;
  std::vector<Frame> stack_;  // the outer frames, down to the array's: deeper ones only count
  std::size_t depth_ = 0;
  bool in_string_ = false, escaped_ = false, capturing_key_ = false;
  // The current element of the target array: whether one is open, where its bytes start in
  // `out`, its size so far, and whether it is being dropped.
  bool in_element_ = false, dropping_ = false;
  std::size_t element_start_ = 0, element_bytes_ = 0, element_depth_ = 0, kept_ = 0;
  std::size_t dropped_ = 0;
};

}  // namespace mrt::transport
