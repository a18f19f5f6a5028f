#!/usr/bin/env bash
# The node-to-node benchmarks, one after the other on this machine, and the markdown tables of
# docs/benchmarks.md ("Node to node") with ratios from this run only:
#   1. build/bench/mrt_node_bench: two mrt::Node through their own `mrt serve` (latency per
#      carrier and durability, throughput with send_many, process CPU per message against the
#      raw primitives measured in the same process), stores under /tmp;
#   2. the same with every store on /dev/shm (tmpfs: fsync costs nothing), durability full only:
#      a diagnostic that shows what the disk adds, not a figure to quote;
#   3. bench/js_sdk_latency.mjs: two matrix-js-sdk clients (Rust crypto) in an encrypted DM room
#      through another `mrt serve` started from the same binary, its store under /tmp; and
#      again with it on /dev/shm (fewer samples), the reference for step 2.
#   bench/node_run.sh [BUILD_DIR]     (default: build; needs `npm ci` for matrix-js-sdk)
# MRT_NODE_BENCH_ARGS and JS_BENCH_ARGS pass options to each (see their headers).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "load before: $(uptime)" >&2
# shellcheck disable=SC2086
"$build/bench/mrt_node_bench" ${MRT_NODE_BENCH_ARGS:-} >"$out/node.jsonl" || {
  echo "mrt_node_bench failed (exit $?); its output:" >&2
  cat "$out/node.jsonl" >&2
  exit 1
}
echo "load between: $(uptime)" >&2
if [[ -d /dev/shm ]]; then
  # shellcheck disable=SC2086
  "$build/bench/mrt_node_bench" --dir /dev/shm --durability full --samples 300 \
    ${MRT_NODE_BENCH_ARGS:-} >"$out/node_tmpfs.jsonl" || {
    echo "mrt_node_bench --dir /dev/shm failed; its output:" >&2
    cat "$out/node_tmpfs.jsonl" >&2
    exit 1
  }
else
  : >"$out/node_tmpfs.jsonl"
fi
# shellcheck disable=SC2086
node "$root/bench/js_sdk_latency.mjs" --mrt "$build/cli/mrt" ${JS_BENCH_ARGS:-} \
  >"$out/js.jsonl" 2>"$out/js.err" || {
  echo "js_sdk_latency.mjs failed; its stderr:" >&2
  cat "$out/js.err" >&2
  exit 1
}
if [[ -d /dev/shm ]]; then
  node "$root/bench/js_sdk_latency.mjs" --mrt "$build/cli/mrt" --dir /dev/shm --samples 100 \
    --burst 200 >"$out/js_tmpfs.jsonl" 2>"$out/js.err" || {
    echo "js_sdk_latency.mjs --dir /dev/shm failed; its stderr:" >&2
    cat "$out/js.err" >&2
    exit 1
  }
else
  : >"$out/js_tmpfs.jsonl"
fi
echo "load after: $(uptime)" >&2

node --input-type=module - "$out/node.jsonl" "$out/node_tmpfs.jsonl" "$out/js.jsonl" \
  "$out/js_tmpfs.jsonl" <<'EOF'
import { readFileSync } from 'node:fs';

const lines = (f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const mrt = lines(process.argv[2]);
const tmpfs = lines(process.argv[3]);
const [js] = lines(process.argv[4]);
const [jsTmpfs] = lines(process.argv[5]);
const prim = mrt.find((l) => l.kind === 'primitives');
const pick = (kind, from = mrt) => from.filter((l) => l.kind === kind);
const ms = (v) => (v < 10 ? v.toFixed(2) : v.toFixed(1)) + ' ms';
const x = (a, b) => (a / b).toFixed(2) + '×';
const n = (v) => Math.round(v).toLocaleString('en-US');
const us = (v) => v.toFixed(1) + ' µs';
const ok = (cond) => (cond ? 'met' : '**missed**');

for (const e of [...pick('error'), ...pick('error', tmpfs)])
  console.log(`ERROR ${e.carrier}/${e.durability}: ${e.what}\n`);

console.log(`| latency, send() → message event on the other node (${js.body_bytes} B body) | p50 | p99 | max | ` +
            'send → delivered p50 | mrt / js-sdk p50 | mrt / js-sdk p99 | goals: p50 ≤ 5 ms, p99 ≤ 25 ms, ≤ 0.3× js-sdk | ' +
            'fdatasync p50 / p99 just before |');
console.log('|---|---|---|---|---|---|---|---|---|');
const latencyRow = (l, where, judge, js) => {
  const rp50 = l.p50_ms / js.p50_ms, rp99 = l.p99_ms / js.p99_ms;
  console.log(`| mrt ${l.carrier}, store durability ${l.durability}${where} | ${ms(l.p50_ms)} | ${ms(l.p99_ms)} | ` +
              `${ms(l.max_ms)} | ${ms(l.delivered_p50_ms)} | ${x(l.p50_ms, js.p50_ms)} | ${x(l.p99_ms, js.p99_ms)} | ` +
              (judge ? `p50 ${ok(l.p50_ms <= 5)}, p99 ${ok(l.p99_ms <= 25)}, ratio ${ok(rp50 <= 0.3 && rp99 <= 0.3)}`
                     : 'diagnostic') + ` | ${ms(l.fsync_p50_ms)} / ${ms(l.fsync_p99_ms)} |`);
};
const jsRow = (js, where) =>
  console.log(`| matrix-js-sdk ${js.version} (Rust crypto), encrypted DM room${where} | ${ms(js.p50_ms)} | ` +
              `${ms(js.p99_ms)} | ${ms(js.max_ms)} | – | 1× | 1× | reference | – |`);
for (const l of pick('latency')) latencyRow(l, '', true, js);
jsRow(js, '');
if (jsTmpfs) {
  for (const l of pick('latency', tmpfs)) latencyRow(l, ', all stores on tmpfs', false, jsTmpfs);
  jsRow(jsTmpfs, ', server store on tmpfs');
}

console.log('\n| throughput, A → B | messages | msg/s received | msg/s delivered (acked) | ' +
            'messages per Matrix send | mrt / js-sdk | goals: ≥ 2,000 msg/s, ≥ 5× js-sdk |');
console.log('|---|---|---|---|---|---|---|');
const throughputRow = (l, where, judge, js) => {
  console.log(`| mrt ${l.carrier}, durability ${l.durability}${where}, send_many of ${l.chunk} | ` +
              `${n(l.messages)} (${l.duplicates} dup., ${l.out_of_order} out of order, ${l.resent} resent, ` +
              `${l.rejected_since_start + l.undecryptable_since_start} rejected or undecryptable) | ` +
              `${n(l.received_per_s)} | ${n(l.delivered_per_s)} | ${l.msgs_per_payload.toFixed(1)} | ` +
              `${x(l.received_per_s, js.received_per_s)} | ` +
              (judge ? `${ok(l.received_per_s >= 2000)}, ${ok(l.received_per_s >= 5 * js.received_per_s)}`
                     : 'diagnostic') + ' |');
};
const jsBurst = (js, where) =>
  console.log(`| matrix-js-sdk ${js.version}, burst of sendEvent${where} | ${n(js.burst)} | ${n(js.received_per_s)} | – | 1 | 1× | reference |`);
for (const l of pick('throughput')) throughputRow(l, '', true, js);
jsBurst(js, '');
if (jsTmpfs) {
  for (const l of pick('throughput', tmpfs)) throughputRow(l, ', tmpfs', false, jsTmpfs);
  jsBurst(jsTmpfs, ', tmpfs');
}

console.log('\n| CPU per message (throughput run) | node process (both nodes) | server process | ' +
            'raw primitives, one Megolm/Olm message per envelope | node / that | ' +
            'raw primitives, batched as the node sends | node / that | goal ≤ 1.3× |');
console.log('|---|---|---|---|---|---|---|---|');
for (const l of pick('throughput')) {
  const room = l.carrier === 'room';
  const sum = room ? prim.sum_room_us : prim.sum_to_device_us;
  const batched = room ? prim.sum_room_batched_us : prim.sum_to_device_batched_us;
  console.log(`| mrt ${l.carrier}, durability ${l.durability} | ${us(l.cpu_us_per_msg)} | ${us(l.server_cpu_us_per_msg)} | ` +
              `${us(sum)} | ${x(l.cpu_us_per_msg, sum)} | ${us(batched)} | ${x(l.cpu_us_per_msg, batched)} | ` +
              `${ok(l.cpu_us_per_msg <= 1.3 * sum)} per envelope, ${ok(l.cpu_us_per_msg <= 1.3 * batched)} batched |`);
}
console.log(`| matrix-js-sdk ${js.version}, both clients (reference) | ${us(js.cpu_us_per_msg)} | – | – | – | – | – | – |`);

console.log(`\nRaw primitives (thread CPU, best of 3 rounds, ${prim.envelope_bytes}-byte envelope): ` +
            `personal_sign ${us(prim.sign_us)}, ecrecover ${us(prim.recover_us)}; one envelope ` +
            `(${prim.plaintext_bytes}-byte plaintext): Megolm encrypt ${us(prim.megolm_encrypt_us)} + decrypt ` +
            `${us(prim.megolm_decrypt_us)} (bare libolm), Olm encrypt ${us(prim.olm_encrypt_us)} + decrypt ` +
            `${us(prim.olm_decrypt_us)}; a full payload of ${prim.batch_envelopes} envelopes ` +
            `(${n(prim.batch_plaintext_bytes)} bytes): Megolm ${us(prim.megolm_encrypt_batch_us)} + ` +
            `${us(prim.megolm_decrypt_batch_us)}, Olm ${us(prim.olm_encrypt_batch_us)} + ${us(prim.olm_decrypt_batch_us)}.`);
for (const f of [...pick('fsync'), ...pick('fsync', tmpfs)])
  console.log(`fdatasync of 4 KiB in ${f.dir}: p50 ${ms(f.p50_ms)}, p99 ${ms(f.p99_ms)}.`);
for (const l of [...pick('setup'), ...pick('setup', tmpfs)])
  console.log(`First contact ${l.carrier}/${l.durability}: ${ms(l.ready_ms)} (${l.rounds} round(s)).`);
for (const j of [js, jsTmpfs].filter(Boolean))
  console.log(`js-sdk (${j.dir}): node ${j.node}, ${j.samples} latency samples, burst sends returned at ` +
              `${n(j.sent_per_s)}/s, ${us(j.cpu_us_per_msg)} CPU per message.`);
EOF
