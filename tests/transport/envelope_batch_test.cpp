// PROTOCOL.md §5: envelopes packed into payloads of at most 40,000 bytes of canonical JSON.
#include "envelope_batch.hpp"

#include <gtest/gtest.h>

#include <mrt/canonical_json.hpp>
#include <mrt/envelope.hpp>

namespace mrt::transport {
namespace {

nlohmann::json envelope_of(std::size_t body_bytes) {
  static const PrivateKey key = PrivateKey::generate();
  return Envelope::message(key, key.address(), std::string(body_bytes, 'x'), 1732528800000)
      .to_json();
}

TEST(PayloadBuilderTest, PayloadStaysWithinTheLimitAndCountsItsBytesExactly) {
  PayloadBuilder payload;
  while (payload.add(envelope_of(3000))) {
  }
  EXPECT_GT(payload.count(), 1u);
  const std::string text = canonical_json(payload.content()).value();
  EXPECT_EQ(text.size(), payload.bytes());
  EXPECT_LE(text.size(), kMaxPayloadBytes);
}

TEST(PayloadBuilderTest, LargestEnvelopeFitsAlone) {
  const auto empty = canonical_json(envelope_of(0)).value().size();
  PayloadBuilder payload;
  EXPECT_TRUE(payload.add(envelope_of(kMaxEnvelopeBytes - empty)));
  EXPECT_FALSE(payload.add(envelope_of(kMaxEnvelopeBytes - empty)));
}

TEST(PayloadBuilderTest, EnvelopeWithoutCanonicalFormIsRefused) {
  PayloadBuilder payload;
  EXPECT_FALSE(payload.add({{"ts", 1.5}}));
  EXPECT_EQ(payload.count(), 0u);
}

}  // namespace
}  // namespace mrt::transport
