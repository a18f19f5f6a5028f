#!/usr/bin/env node
// Baseline for mrt's signature checks: ethers v6 on node.
//   node bench/ethers_verify.mjs [--seconds S]   (default 2 s per measurement, after warm-up)
// Prints one JSON object:
//   {"ethers_verifyMessage_ns_per_op": N, "ethers_recover_digest_ns_per_op": N, "node": "v20…", "ethers": "6.…"}
// - verifyMessage: ethers.verifyMessage(message, signature) for a 32-byte message (EIP-191
//   hashing + signature parsing + recovery + address).
// - recover_digest: SigningKey.recoverPublicKey(digest, signature) + computeAddress(publicKey)
//   over the precomputed EIP-191 digest (recovery + address only).
import { Wallet, SigningKey, computeAddress, hashMessage, keccak256, toUtf8Bytes, getBytes, verifyMessage, version } from 'ethers';

function parseSeconds(argv) {
  const i = argv.indexOf('--seconds');
  if (i < 0) return 2;
  const s = Number(argv[i + 1]);
  if (!(s > 0)) {
    console.error('usage: node bench/ethers_verify.mjs [--seconds S]');
    process.exit(2);
  }
  return s;
}

// Run fn in batches (each about 20 ms) until `seconds` have passed; returns integer ns per call.
function measure(fn, seconds) {
  const budget = BigInt(Math.round(seconds * 1e9));
  let batch = 1;
  let ops = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    elapsed = process.hrtime.bigint() - t0;
    const perOp = Number(elapsed) / ops;
    const remaining = Number(budget - elapsed);
    batch = Math.max(1, Math.min(Math.ceil(20e6 / perOp), Math.ceil(remaining / perOp)));
  }
  return Math.round(Number(elapsed) / ops);
}

const seconds = parseSeconds(process.argv.slice(2));

// Fixed inputs: a deterministic key and a 32-byte message.
const wallet = new Wallet(keccak256(toUtf8Bytes('mrt bench key')));
const message = getBytes(keccak256(toUtf8Bytes('mrt bench message')));
const signature = wallet.signMessageSync(message);
const digest = hashMessage(message);
const expected = wallet.address;

let sink = 0;
const verifyOnce = () => {
  const a = verifyMessage(message, signature);
  if (a !== expected) throw new Error(`verifyMessage returned ${a}, expected ${expected}`);
  sink ^= a.length;
};
const recoverOnce = () => {
  const a = computeAddress(SigningKey.recoverPublicKey(digest, signature));
  if (a !== expected) throw new Error(`recoverPublicKey returned ${a}, expected ${expected}`);
  sink ^= a.length;
};

const warmup = Math.min(0.5, seconds / 2);
measure(verifyOnce, warmup);
const verifyNs = measure(verifyOnce, seconds);
measure(recoverOnce, warmup);
const recoverNs = measure(recoverOnce, seconds);

if (sink === -1) console.error('unreachable');
console.log(
  JSON.stringify({
    ethers_verifyMessage_ns_per_op: verifyNs,
    ethers_recover_digest_ns_per_op: recoverNs,
    node: process.version,
    ethers: version,
  }),
);
