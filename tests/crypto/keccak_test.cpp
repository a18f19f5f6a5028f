#include <gtest/gtest.h>

#include <mrt/keccak.hpp>

namespace mrt {
namespace {

TEST(Keccak256, EmptyInputIsEthereumsConstant) {
  EXPECT_EQ(to_0x_hex(keccak256({})),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
}

TEST(Keccak256, UsesKeccakPaddingNotSha3) {
  // SHA3-256("abc") would be 3a985da7...; Keccak-256("abc") is 4e03657a....
  EXPECT_EQ(to_0x_hex(keccak256(as_bytes("abc"))),
            "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
}

TEST(Keccak256, IncrementalEqualsOneShotAcrossBlockBoundaries) {
  Bytes data(3 * Keccak256::kRate + 7);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 31 + 7);
  for (std::size_t split : {std::size_t{0}, std::size_t{1}, Keccak256::kRate - 1, Keccak256::kRate,
                            Keccak256::kRate + 1, data.size()}) {
    Keccak256 k;
    k.update(ByteView(data).first(split));
    k.update(ByteView(data).subspan(split));
    EXPECT_EQ(k.finish(), keccak256(data)) << "split at " << split;
  }
}

TEST(Keccak256, FinishTwiceIsAProgrammingError) {
  Keccak256 k;
  (void)k.finish();
  EXPECT_THROW((void)k.finish(), std::logic_error);
  EXPECT_THROW(k.update(as_bytes("x")), std::logic_error);
}

}  // namespace
}  // namespace mrt
