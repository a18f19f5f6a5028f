// Fuzz target: the strict JSON parser and the canonical serialiser (PROTOCOL.md §1).
//
// Input: arbitrary bytes, read as JSON text. Properties:
// - parse_json_strict never crashes or throws, whatever the bytes;
// - a value it accepts has a canonical form; that form is valid UTF-8, has no raw byte below
//   0x20, parses strictly to an equal value, and re-serialises to the same bytes (fixed point);
// - nlohmann's own lenient parser reads the canonical form as the same value (the canonical
//   bytes are plain JSON to any other reader);
// - any value nlohmann's lenient parser builds from the input (duplicate keys, floats, -0, big
//   integers let through) either is refused by canonical_json or gets a canonical form with the
//   same fixed-point properties.
#include <cstdint>
#include <string>

#include <mrt/canonical_json.hpp>

#include "fuzz_common.hpp"

namespace {

using mrt::fuzz::as_text;
using nlohmann::json;

void check_canonical_form(const std::string& canonical) {
  FUZZ_CHECK(mrt::fuzz::valid_utf8(canonical));
  for (char c : canonical) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20);
  auto again = mrt::parse_json_strict(canonical);
  FUZZ_CHECK(again.ok());
  auto twice = mrt::canonical_json(*again);
  FUZZ_CHECK(twice.ok());
  FUZZ_CHECK(*twice == canonical);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);

  auto parsed = mrt::parse_json_strict(text);
  if (parsed) {
    // What the strict parser accepted is valid UTF-8 JSON text.
    FUZZ_CHECK(mrt::fuzz::valid_utf8(text));
    auto canonical = mrt::canonical_json(*parsed);
    FUZZ_CHECK(canonical.ok());
    check_canonical_form(*canonical);
    FUZZ_CHECK(*mrt::parse_json_strict(*canonical) == *parsed);
    const json lenient = json::parse(*canonical, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(!lenient.is_discarded());
    FUZZ_CHECK(lenient == *parsed);
  } else {
    FUZZ_CHECK(!parsed.error().message.empty());
  }

  // The serialiser on values the strict parser never builds.
  const json lenient = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!lenient.is_discarded()) {
    auto canonical = mrt::canonical_json(lenient);
    if (canonical) {
      check_canonical_form(*canonical);
    } else {
      FUZZ_CHECK(!canonical.error().message.empty());
    }
  }
  return 0;
}
