// Fuzz target: the streaming filter that drops oversized /sync to-device events
// (transport/oversized_element_filter) on any bytes a homeserver sends, cut into any chunks.
//
// Input: byte 0 the element limit, byte 1 the chunk size, the rest the body. Properties:
// - never crashes or throws, and the output is the same wherever the chunks are cut;
// - a dropped element is never held: the output is never longer than the input plus one comma
//   per kept element (commas are written anew);
// - on JSON input, the output is JSON: equal to the input with some elements of
//   to_device.events removed (those kept in order), as many as the filter says it dropped (or
//   fewer, when keys repeat); with no limit it is the input's JSON unchanged.
#include "fuzz_common.hpp"
#include "transport/oversized_element_filter.hpp"

namespace {

using mrt::transport::OversizedElementFilter;
using mrt::transport::OversizedElements;
using nlohmann::json;

std::string run(std::string_view body, std::size_t limit, std::size_t chunk, std::size_t* dropped) {
  OversizedElementFilter filter(OversizedElements{{"to_device", "events"}, limit});
  std::string out;
  for (std::size_t at = 0; at < body.size(); at += chunk) filter.feed(body.substr(at, chunk), out);
  *dropped = filter.dropped();
  return out;
}

const json* events_of(const json& j) {
  if (!j.is_object()) return nullptr;
  auto td = j.find("to_device");
  if (td == j.end() || !td->is_object()) return nullptr;
  auto ev = td->find("events");
  return ev != td->end() && ev->is_array() ? &*ev : nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t limit = data[0];
  const std::size_t chunk = data[1] % 16 + 1;
  const std::string_view body = mrt::fuzz::as_text(data + 2, size - 2);

  std::size_t dropped = 0, dropped_whole = 0, dropped_unlimited = 0;
  const std::string out = run(body, limit, chunk, &dropped);
  FUZZ_CHECK(run(body, limit, body.size() + 1, &dropped_whole) == out);
  FUZZ_CHECK(dropped_whole == dropped);
  FUZZ_CHECK(out.size() <= 2 * body.size() + 1);

  // nlohmann's parser stops at a NUL as at the end: the bytes after it, which the filter still
  // reads, would not be in `in`.
  if (body.find('\0') != std::string_view::npos) return 0;
  const json in = json::parse(body, nullptr, false);
  if (in.is_discarded()) return 0;
  const json unlimited =
      json::parse(run(body, SIZE_MAX, chunk, &dropped_unlimited), nullptr, false);
  FUZZ_CHECK(unlimited == in);
  FUZZ_CHECK(dropped_unlimited == 0);
  const json kept = json::parse(out, nullptr, false);
  FUZZ_CHECK(!kept.is_discarded());
  const json* before = events_of(in);
  if (before == nullptr) {
    FUZZ_CHECK(kept == in && dropped == 0);
    return 0;
  }
  const json* after = events_of(kept);
  FUZZ_CHECK(after != nullptr);
  // Duplicate keys: the parser keeps the last "to_device", the filter drops in every one.
  FUZZ_CHECK(after->size() <= before->size() && after->size() + dropped >= before->size());
  std::size_t i = 0;  // the kept elements are a subsequence of the input's
  for (const auto& e : *after) {
    while (i < before->size() && (*before)[i] != e) ++i;
    FUZZ_CHECK(i < before->size());
    ++i;
  }
  json rest = in, rest_kept = kept;
  rest["to_device"].erase("events");
  rest_kept["to_device"].erase("events");
  FUZZ_CHECK(rest == rest_kept);
  return 0;
}
