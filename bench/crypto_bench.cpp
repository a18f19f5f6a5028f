// Costs of the crypto foundation, each next to the primitive it wraps so that docs/benchmarks.md
// can report ratios measured in one run (bench/run.sh).
#include <benchmark/benchmark.h>
#include <nettle/sha3.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <mrt/broadcast_event_rule.hpp>
#include <mrt/canonical_json.hpp>
#include <mrt/eth.hpp>
#include <mrt/keccak.hpp>
#include <mrt/matrix_identity.hpp>

namespace {

using mrt::Bytes;

// The same fixed inputs as bench/ethers_verify.mjs: key keccak256("mrt bench key"), a 32-byte
// message keccak256("mrt bench message").
const mrt::PrivateKey& bench_key() {
  static const mrt::PrivateKey key =
      mrt::PrivateKey::from_bytes(mrt::keccak256(mrt::as_bytes("mrt bench key"))).value();
  return key;
}
const mrt::Hash256 kMessage = mrt::keccak256(mrt::as_bytes("mrt bench message"));

void BM_Keccak256(benchmark::State& state) {
  const Bytes data(static_cast<std::size_t>(state.range(0)), 0xa5);
  for (auto _ : state) benchmark::DoNotOptimize(mrt::keccak256(data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Keccak256)->Arg(32)->Arg(1024);

// Baseline: nettle's SHA3-256, the same permutation with nettle's own sponge.
void BM_NettleSha3_256(benchmark::State& state) {
  const Bytes data(static_cast<std::size_t>(state.range(0)), 0xa5);
  for (auto _ : state) {
    sha3_256_ctx ctx;
    sha3_256_init(&ctx);
    sha3_256_update(&ctx, data.size(), data.data());
    std::uint8_t digest[SHA3_256_DIGEST_SIZE];
    sha3_256_digest(&ctx, sizeof digest, digest);
    benchmark::DoNotOptimize(digest);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_NettleSha3_256)->Arg(32)->Arg(1024);

void BM_PersonalSign(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(mrt::personal_sign(bench_key(), kMessage));
}
BENCHMARK(BM_PersonalSign);

// mrt::ecrecover from the signature's hex text: parse, hash, checks, recover, address.
void BM_Ecrecover(benchmark::State& state) {
  const std::string sig = mrt::personal_sign(bench_key(), kMessage).to_hex();
  for (auto _ : state) {
    auto a = mrt::ecrecover(kMessage, sig);
    if (!a || *a != bench_key().address()) state.SkipWithError("wrong address");
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_Ecrecover);

// mrt::ecrecover_digest: the same work as the direct call below plus mrt's checks (v, zero r/s,
// high-S) and its Result.
void BM_EcrecoverDigest(benchmark::State& state) {
  const mrt::Signature sig = mrt::personal_sign(bench_key(), kMessage);
  const mrt::Hash256 digest = mrt::personal_message_hash(kMessage);
  for (auto _ : state) benchmark::DoNotOptimize(mrt::ecrecover_digest(digest, sig));
}
BENCHMARK(BM_EcrecoverDigest);

// The homeserver rule (mrt/broadcast_event_rule.hpp) on an event of N honest broadcast envelopes
// of 200-byte bodies: per envelope, against BM_Ecrecover (its one ecrecover each).
void BM_BroadcastRule(benchmark::State& state) {
  nlohmann::json content = {{"envelopes", nlohmann::json::array()}};
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    content["envelopes"].push_back(mrt::Envelope::broadcast(bench_key(), "raiden_1_path_finding",
                                                            std::string(200, 'c'), 1732528800000)
                                       .to_json());
  }
  const std::string sender = mrt::matrix_user_id(bench_key().address(), "hs.example");
  for (auto _ : state) {
    auto refused = mrt::refuse_broadcast_event(content, "raiden_1_path_finding", sender);
    if (refused) state.SkipWithError(refused->message().c_str());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_BroadcastRule)->Arg(1)->Arg(100);

// The same event sent by another Matrix user: refused on the first envelope's sender, before
// any ecrecover (what a republishing forger costs the server).
void BM_BroadcastRuleRepublished(benchmark::State& state) {
  const nlohmann::json content = {{"envelopes",
                                   {mrt::Envelope::broadcast(bench_key(), "raiden_1_path_finding",
                                                             std::string(200, 'c'), 1732528800000)
                                        .to_json()}}};
  const std::string forger =
      mrt::matrix_user_id(mrt::PrivateKey::generate().address(), "hs.example");
  for (auto _ : state)
    benchmark::DoNotOptimize(mrt::refuse_broadcast_event(content, "raiden_1_path_finding", forger));
}
BENCHMARK(BM_BroadcastRuleRepublished);

// Baseline: libsecp256k1 called directly (parse, recover, serialize) plus keccak of the key
// for the address: the least any ecrecover can do.
void BM_Secp256k1RecoverDirect(benchmark::State& state) {
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  const mrt::Signature sig = mrt::personal_sign(bench_key(), kMessage);
  const mrt::Hash256 digest = mrt::personal_message_hash(kMessage);
  for (auto _ : state) {
    secp256k1_ecdsa_recoverable_signature raw;
    secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &raw, sig.bytes.data(),
                                                        sig.bytes[64] - 27);
    secp256k1_pubkey pub;
    if (!secp256k1_ecdsa_recover(ctx, &pub, &raw, digest.data())) state.SkipWithError("recover");
    unsigned char out[65];
    size_t len = sizeof out;
    secp256k1_ec_pubkey_serialize(ctx, out, &len, &pub, SECP256K1_EC_UNCOMPRESSED);
    benchmark::DoNotOptimize(mrt::keccak256(mrt::ByteView(out + 1, 64)));
  }
  secp256k1_context_destroy(ctx);
}
BENCHMARK(BM_Secp256k1RecoverDirect);

// A ~1 KiB object shaped like Matrix/Raiden traffic: nested objects, hex, text, integers.
nlohmann::json one_kib_object() {
  nlohmann::json o = {{"type", "network.raiden.envelopes"}, {"v", 1}};
  for (std::uint8_t i = 0; i < 6; ++i) {
    o["envelopes"].push_back({{"kind", "message"},
                              {"nonce", mrt::to_hex(mrt::keccak256(Bytes(1, i))).substr(0, 32)},
                              {"ts", 1732528800000 + i},
                              {"body", "balance proof \u00e9 #" + std::to_string(i)}});
  }
  return o;
}

void BM_CanonicalJsonSerialise1KiB(benchmark::State& state) {
  const nlohmann::json o = one_kib_object();
  std::size_t size = 0;
  for (auto _ : state) {
    auto s = mrt::canonical_json(o);
    size = s->size();
    benchmark::DoNotOptimize(s);
  }
  state.counters["bytes"] = static_cast<double>(size);
}
BENCHMARK(BM_CanonicalJsonSerialise1KiB);

void BM_CanonicalJsonParseAndSerialise1KiB(benchmark::State& state) {
  const std::string text = one_kib_object().dump(1);
  for (auto _ : state) {
    auto parsed = mrt::parse_json_strict(text);
    benchmark::DoNotOptimize(mrt::canonical_json(*parsed));
  }
}
BENCHMARK(BM_CanonicalJsonParseAndSerialise1KiB);

// nlohmann's own parse + dump of the same text, as the reference cost of a JSON round trip.
void BM_NlohmannParseAndDump1KiB(benchmark::State& state) {
  const std::string text = one_kib_object().dump(1);
  for (auto _ : state) benchmark::DoNotOptimize(nlohmann::json::parse(text).dump());
}
BENCHMARK(BM_NlohmannParseAndDump1KiB);

}  // namespace
