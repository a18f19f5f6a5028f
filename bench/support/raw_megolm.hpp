// bench/support/raw_megolm.hpp (internal): a Megolm outbound session and the inbound one made from
// its key, on bare libolm, with none of mrt's glue: the "raw primitive" the benchmarks compare the
// E2EE machine and the node with (bench/e2ee_bench.cpp, bench/support/node_benchmark.cpp).
#pragma once

#include <cstdint>
#include <olm/olm.h>
#include <string>
#include <vector>

#include <sodium.h>

namespace mrt::bench {

struct RawGroup {
  std::vector<std::uint8_t> out_mem = std::vector<std::uint8_t>(olm_outbound_group_session_size());
  std::vector<std::uint8_t> in_mem = std::vector<std::uint8_t>(olm_inbound_group_session_size());
  OlmOutboundGroupSession* out = olm_outbound_group_session(out_mem.data());
  OlmInboundGroupSession* in = olm_inbound_group_session(in_mem.data());
  RawGroup() {
    std::vector<std::uint8_t> random(olm_init_outbound_group_session_random_length(out));
    randombytes_buf(random.data(), random.size());
    olm_init_outbound_group_session(out, random.data(), random.size());
    std::vector<std::uint8_t> key(olm_outbound_group_session_key_length(out));
    olm_outbound_group_session_key(out, key.data(), key.size());
    olm_init_inbound_group_session(in, key.data(), key.size());
  }
  std::string encrypt(const std::string& plaintext) {
    std::string message(olm_group_encrypt_message_length(out, plaintext.size()), '\0');
    const auto n = olm_group_encrypt(
        out, reinterpret_cast<const std::uint8_t*>(plaintext.data()), plaintext.size(),
        reinterpret_cast<std::uint8_t*>(message.data()), message.size());
    message.resize(n);
    return message;
  }
  std::size_t decrypt(const std::string& message, std::vector<std::uint8_t>& plain) {
    std::string copy = message;  // libolm decodes in place
    const auto max = olm_group_decrypt_max_plaintext_length(
        in, reinterpret_cast<std::uint8_t*>(copy.data()), copy.size());
    copy = message;
    plain.resize(max);
    std::uint32_t index = 0;
    return olm_group_decrypt(in, reinterpret_cast<std::uint8_t*>(copy.data()), copy.size(),
                             plain.data(), max, &index);
  }
};

}  // namespace mrt::bench
