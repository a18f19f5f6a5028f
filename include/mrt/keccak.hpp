// File: mrt/keccak.hpp
//
// Keccak-256 as Ethereum uses it: the original Keccak padding (0x01 ... 0x80), not SHA3-256's
// (0x06). The permutation is nettle's `sha3_permute`; only the sponge is ours.
//
//   mrt::Hash256 h = mrt::keccak256(mrt::as_bytes("abc"));
//
//   mrt::Keccak256 k;            // incremental, for data in pieces
//   k.update(prefix); k.update(body);
//   mrt::Hash256 h2 = k.finish();
#pragma once

#include <array>
#include <cstdint>

#include <mrt/bytes.hpp>

namespace mrt {

using Hash256 = std::array<std::uint8_t, 32>;

class Keccak256 {
 public:
  static constexpr std::size_t kRate = 136;  // bytes absorbed per permutation (1600 - 2*256 bits)

  Keccak256();
  ~Keccak256();  // wipes the state: it may have absorbed a secret (keystore MAC)
  Keccak256(const Keccak256&) = delete;
  Keccak256& operator=(const Keccak256&) = delete;

  void update(ByteView data);
  // Pads, permutes and returns the digest. The object is spent afterwards; calling update or
  // finish again is a programming error (throws std::logic_error).
  Hash256 finish();

 private:
  void absorb_block(const std::uint8_t* block);  // kRate bytes at offset 0
  std::array<std::uint64_t, 25> lanes_{};
  std::array<std::uint8_t, kRate> pending_{};  // a partial block, until it is full
  std::size_t offset_ = 0;                     // bytes of pending_ in use
  bool finished_ = false;
};

Hash256 keccak256(ByteView data);

}  // namespace mrt
