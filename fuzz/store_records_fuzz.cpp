// Fuzz target: the store's reading of its own records (a data directory can be damaged, copied
// between nodes, or edited by whoever gets the disk).
//
// Input: a 7-byte header, then a table name, a record key and the rest (a value):
//   u16 table length (mod 512), u16 record key length (mod 512), position, flip, split
// (LMDB's names and keys go up to 511 bytes). Properties, besides no crash and no sanitizer
// report:
// - sealed values (store/store_keys.hpp, what a sealed table's get and scan open): the input
//   as a sealed value never opens; a table name above 255 bytes is refused; a value the harness
//   seals opens to exactly its plaintext in its own record, and to nothing with one byte
//   changed, with a byte cut off, in a record whose table and key are the same bytes split
//   elsewhere, in the same table under another key, or under another owner's key;
// - every codec of include/mrt/store/codecs.hpp: decode never throws; what decodes encodes back
//   to the same bytes (JsonValue: to its canonical form), and decode(encode(x)) == x; U64Key
//   keeps numeric order as byte order; join_key refuses exactly the parts that contain NUL.
#include <algorithm>
#include <stdexcept>

#include <mrt/canonical_json.hpp>
#include <mrt/store/codecs.hpp>

#include "fuzz_common.hpp"
#include "store/store_keys.hpp"

namespace {

using mrt::store::detail::Sealer;
using mrt::store::detail::StoreKeys;

Sealer sealer_of(std::uint8_t fill) {
  const mrt::store::StoreKey root(mrt::SecretBuffer(mrt::Bytes(32, fill)));
  return Sealer(std::move(StoreKeys::derive(root).seal));
}

bool equal(mrt::ByteView a, mrt::ByteView b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

bool opens(const Sealer& sealer, std::string_view table, mrt::ByteView key, mrt::ByteView sealed) {
  return sealer.open(table, key, sealed).has_value();
}

// A value codec: decode never throws, and what it accepts round-trips to the same bytes.
template <class Codec>
void check_exact_value_codec(mrt::ByteView bytes) {
  auto decoded = Codec::decode(bytes);
  if (!decoded) return;
  const mrt::SecretBuffer encoded = Codec::encode(*decoded);
  FUZZ_CHECK(equal(encoded.view(), bytes));
}

template <class Codec>
void check_key_codec(mrt::ByteView bytes) {
  auto decoded = Codec::decode(bytes);
  if (!decoded) return;
  FUZZ_CHECK(equal(Codec::encode(*decoded), bytes));
}

void check_codecs(mrt::ByteView value) {
  check_exact_value_codec<mrt::store::StringValue>(value);
  check_exact_value_codec<mrt::store::BytesValue>(value);
  check_exact_value_codec<mrt::store::SecretValue>(value);
  check_exact_value_codec<mrt::store::U64Value>(value);
  FUZZ_CHECK(mrt::store::U64Value::decode(value).has_value() == (value.size() == 8));
  FUZZ_CHECK(mrt::store::StringValue::decode(value).has_value());
  FUZZ_CHECK(mrt::store::BytesValue::decode(value).has_value());
  check_key_codec<mrt::store::StringKey>(value);
  check_key_codec<mrt::store::BytesKey>(value);
  check_key_codec<mrt::store::U64Key>(value);
  FUZZ_CHECK(mrt::store::U64Key::decode(value).has_value() == (value.size() == 8));

  // Integer keys: numeric order is byte order (range scans rely on it).
  if (value.size() >= 16) {
    const std::uint64_t a = *mrt::store::U64Key::decode(value.first(8));
    const std::uint64_t b = *mrt::store::U64Key::decode(value.subspan(8, 8));
    const mrt::Bytes ea = mrt::store::U64Key::encode(a), eb = mrt::store::U64Key::encode(b);
    FUZZ_CHECK((a < b) == std::lexicographical_compare(ea.begin(), ea.end(), eb.begin(), eb.end()));
  }

  // JSON values: accepted text is the strict parser's; its encoding is the canonical form, which
  // decodes to an equal value and encodes to the same bytes again.
  auto json = mrt::store::JsonValue::decode(value);
  const auto strict = mrt::parse_json_strict(mrt::as_chars(value));
  FUZZ_CHECK(json.has_value() == static_cast<bool>(strict));
  if (!json) return;
  FUZZ_CHECK(*json == *strict);
  const mrt::SecretBuffer encoded = mrt::store::JsonValue::encode(*json);
  FUZZ_CHECK(mrt::as_chars(encoded.view()) == mrt::canonical_json(*json).value());
  auto again = mrt::store::JsonValue::decode(encoded.view());
  FUZZ_CHECK(again && *again == *json);
  FUZZ_CHECK(equal(mrt::store::JsonValue::encode(*again).view(), encoded.view()));
}

void check_join_key(std::string_view a, std::string_view b, std::string_view c) {
  const bool has_nul = a.find('\0') != std::string_view::npos ||
                       b.find('\0') != std::string_view::npos ||
                       c.find('\0') != std::string_view::npos;
  try {
    const std::string joined = mrt::store::join_key({a, b, c});
    FUZZ_CHECK(!has_nul);
    FUZZ_CHECK(joined == std::string(a) + '\0' + std::string(b) + '\0' + std::string(c) + '\0');
    FUZZ_CHECK(joined.starts_with(mrt::store::join_key({a})));
    FUZZ_CHECK(joined.starts_with(mrt::store::join_key({a, b})));
  } catch (const std::invalid_argument&) {
    FUZZ_CHECK(has_nul);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 7) return 0;
  static const Sealer ours = sealer_of(0x11);
  static const Sealer foreign = sealer_of(0x22);

  const std::size_t table_len = (data[0] << 8 | data[1]) % 512;
  const std::size_t key_len = (data[2] << 8 | data[3]) % 512;
  const std::uint8_t position = data[4], flip = data[5] | 1, split = data[6];
  mrt::ByteView rest(data + 7, size - 7);
  const mrt::ByteView table_bytes = rest.first(std::min(table_len, rest.size()));
  rest = rest.subspan(table_bytes.size());
  const mrt::ByteView key = rest.first(std::min(key_len, rest.size()));
  const mrt::ByteView value = rest.subspan(key.size());
  const std::string_view table = mrt::as_chars(table_bytes);

  check_codecs(value);
  check_join_key(table, mrt::as_chars(key), mrt::as_chars(value));

  // Arbitrary bytes are not a sealed value: forging one needs the owner's key.
  FUZZ_CHECK(!opens(ours, table, key, value));

  // The associated data has one byte for the table name's length: longer names are refused
  // (Env::open refuses to declare them), never sealed ambiguously.
  if (table.size() > Sealer::kMaxTableName) {
    bool refused = false;
    try {
      (void)ours.seal(table, key, value);
    } catch (const std::invalid_argument&) {
      refused = true;
    }
    FUZZ_CHECK(refused);
    return 0;
  }

  const mrt::Bytes sealed = ours.seal(table, key, value);
  FUZZ_CHECK(sealed.size() == value.size() + Sealer::kOverhead);
  auto plain = ours.open(table, key, sealed);
  FUZZ_CHECK(plain && equal(plain->view(), value));

  // Modified: one byte changed, or cut short.
  mrt::Bytes changed = sealed;
  changed[(position * 257u + split) % changed.size()] ^= flip;
  FUZZ_CHECK(!opens(ours, table, key, changed));
  FUZZ_CHECK(!opens(ours, table, key, mrt::ByteView(sealed).first(sealed.size() - 1)));

  // Moved: the same table and key bytes split at another point (so a table name can not absorb
  // the start of a key, or the reverse), or another key in the same table.
  mrt::Bytes joined(table_bytes.begin(), table_bytes.end());
  joined.insert(joined.end(), key.begin(), key.end());
  const std::size_t at = (static_cast<std::size_t>(position) << 8 | split) % (joined.size() + 1);
  if (at != table_bytes.size()) {
    const mrt::ByteView j(joined);
    FUZZ_CHECK(!opens(ours, mrt::as_chars(j.first(at)), j.subspan(at), sealed));
  }
  mrt::Bytes other_key(key.begin(), key.end());
  if (other_key.empty() || position % 2 == 0) {
    other_key.push_back(split);
  } else {
    other_key[position % other_key.size()] ^= flip;
  }
  FUZZ_CHECK(!opens(ours, table, other_key, sealed));

  // Another owner's store.
  FUZZ_CHECK(!opens(foreign, table, key, sealed));

  // The path of a sealed JSON table: seal the encoding, open, decode.
  if (auto json = mrt::store::JsonValue::decode(value)) {
    const mrt::SecretBuffer encoded = mrt::store::JsonValue::encode(*json);
    auto opened = ours.open(table, key, ours.seal(table, key, encoded.view()));
    FUZZ_CHECK(opened);
    auto back = mrt::store::JsonValue::decode(opened->view());
    FUZZ_CHECK(back && *back == *json);
  }
  return 0;
}
