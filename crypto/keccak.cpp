#include <stdexcept>

#include <nettle/sha3.h>
#include <sodium.h>

#include <mrt/keccak.hpp>

namespace mrt {
namespace {

// Keccak lanes are little-endian 64-bit words: byte i of the state is byte (i % 8) of lane i / 8.
void xor_byte(std::array<std::uint64_t, 25>& lanes, std::size_t index, std::uint8_t byte) {
  lanes[index / 8] ^= static_cast<std::uint64_t>(byte) << (8 * (index % 8));
}

void permute(std::array<std::uint64_t, 25>& lanes) {
  static_assert(sizeof(sha3_state) == sizeof(lanes));
  sha3_state state;
  std::copy(lanes.begin(), lanes.end(), state.a);
  sha3_permute(&state);
  std::copy(state.a, state.a + 25, lanes.begin());
  sodium_memzero(&state, sizeof state);
}

}  // namespace

Keccak256::Keccak256() = default;

Keccak256::~Keccak256() { sodium_memzero(lanes_.data(), sizeof lanes_); }

void Keccak256::update(ByteView data) {
  if (finished_) throw std::logic_error("Keccak256::update after finish");
  for (std::uint8_t byte : data) {
    xor_byte(lanes_, offset_, byte);
    if (++offset_ == kRate) {
      permute(lanes_);
      offset_ = 0;
    }
  }
}

Hash256 Keccak256::finish() {
  if (finished_) throw std::logic_error("Keccak256::finish called twice");
  finished_ = true;
  // pad10*1 with Keccak's domain bits 0x01; both land in one byte when offset_ == kRate - 1.
  xor_byte(lanes_, offset_, 0x01);
  xor_byte(lanes_, kRate - 1, 0x80);
  permute(lanes_);
  Hash256 out;
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(lanes_[i / 8] >> (8 * (i % 8)));
  }
  return out;
}

Hash256 keccak256(ByteView data) {
  Keccak256 k;
  k.update(data);
  return k.finish();
}

}  // namespace mrt
