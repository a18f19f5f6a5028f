#include <cstring>
#include <stdexcept>

#include <nettle/sha3.h>
#include <sodium.h>

#include <mrt/keccak.hpp>

namespace mrt {
namespace {

static_assert(sizeof(sha3_state) == sizeof(std::array<std::uint64_t, 25>));

// Keccak lanes are little-endian 64-bit words.
std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

// sha3_state is `struct { uint64_t a[25]; }`: the lanes are permuted in place, with no copy
// that would need wiping.
static_assert(alignof(sha3_state) == alignof(std::array<std::uint64_t, 25>));
void permute(std::array<std::uint64_t, 25>& lanes) {
  sha3_permute(reinterpret_cast<sha3_state*>(lanes.data()));
}

}  // namespace

Keccak256::Keccak256() = default;

Keccak256::~Keccak256() {
  sodium_memzero(lanes_.data(), sizeof lanes_);
  sodium_memzero(pending_.data(), sizeof pending_);
}

void Keccak256::absorb_block(const std::uint8_t* block) {
  for (std::size_t i = 0; i < kRate / 8; ++i) lanes_[i] ^= load_le64(block + 8 * i);
  permute(lanes_);
}

void Keccak256::update(ByteView data) {
  if (finished_) throw std::logic_error("Keccak256::update after finish");
  if (data.empty()) return;  // an empty span may carry a null pointer, which memcpy may not take
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  if (offset_ > 0) {
    const std::size_t take = std::min(n, kRate - offset_);
    std::memcpy(pending_.data() + offset_, p, take);
    offset_ += take;
    p += take;
    n -= take;
    if (offset_ < kRate) return;
    absorb_block(pending_.data());
    offset_ = 0;
  }
  for (; n >= kRate; p += kRate, n -= kRate) absorb_block(p);
  if (n > 0) std::memcpy(pending_.data(), p, n);
  offset_ = n;
}

Hash256 Keccak256::finish() {
  if (finished_) throw std::logic_error("Keccak256::finish called twice");
  finished_ = true;
  // pad10*1 with Keccak's domain bit 0x01 (SHA-3 would use 0x06); one byte when offset_ == 135.
  std::memset(pending_.data() + offset_, 0, kRate - offset_);
  pending_[offset_] ^= 0x01;
  pending_[kRate - 1] ^= 0x80;
  absorb_block(pending_.data());
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
