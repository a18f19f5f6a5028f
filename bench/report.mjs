// Formats bench/run.sh's measurements as the markdown table of docs/benchmarks.md.
//   node bench/report.mjs mrt.json ethers.json
import { readFileSync } from 'node:fs';

const [mrtFile, ethersFile] = process.argv.slice(2);
const mrt = JSON.parse(readFileSync(mrtFile, 'utf8'));
const ethers = JSON.parse(readFileSync(ethersFile, 'utf8'));

// Fastest repetition (CPU time per iteration, ns) of each benchmark: on a shared machine the
// minimum is the measurement least disturbed by other work.
const ns = {};
for (const b of mrt.benchmarks) {
  if (b.run_type !== 'iteration') continue;
  const scale = { ns: 1, us: 1e3, ms: 1e6 }[b.time_unit];
  const t = b.cpu_time * scale;
  ns[b.run_name] = Math.min(ns[b.run_name] ?? Infinity, t);
}
const need = (name) => {
  if (!(name in ns)) throw new Error(`benchmark ${name} missing from ${mrtFile}`);
  return ns[name];
};
const fmt = (v) => (v >= 10000 ? `${(v / 1000).toFixed(1)} µs` : `${Math.round(v)} ns`);
const ratio = (a, b) => `${(a / b).toFixed(2)}×`;

const rows = [
  ['keccak256, 32 B', need('BM_Keccak256/32'), 'nettle SHA3-256, 32 B', need('BM_NettleSha3_256/32'), ''],
  ['keccak256, 1 KiB', need('BM_Keccak256/1024'), 'nettle SHA3-256, 1 KiB', need('BM_NettleSha3_256/1024'), ''],
  ['personal_sign (32 B message)', need('BM_PersonalSign'), '', null, ''],
  ['ecrecover_digest (checks + recover + address)', need('BM_EcrecoverDigest'),
   'libsecp256k1 recover + keccak, direct', need('BM_Secp256k1RecoverDirect'), '≤ 1.1×'],
  ['ecrecover (hex parse + EIP-191 hash + recover)', need('BM_Ecrecover'),
   'libsecp256k1 recover + keccak, direct', need('BM_Secp256k1RecoverDirect'), '≤ 1.1×'],
  ['ecrecover (hex parse + EIP-191 hash + recover)', need('BM_Ecrecover'),
   `ethers ${ethers.ethers} verifyMessage (node ${ethers.node})`, ethers.ethers_verifyMessage_ns_per_op, '≤ 0.1× (10× faster)'],
  ['ecrecover_digest', need('BM_EcrecoverDigest'),
   'ethers recoverPublicKey + computeAddress', ethers.ethers_recover_digest_ns_per_op, ''],
  ['canonical_json, ~1 KiB object', need('BM_CanonicalJsonSerialise1KiB'), '', null, ''],
  ['parse_json_strict + canonical_json, ~1 KiB', need('BM_CanonicalJsonParseAndSerialise1KiB'),
   'nlohmann parse + dump, same text', need('BM_NlohmannParseAndDump1KiB'), ''],
];

console.log('| operation | mrt | baseline | baseline time | mrt / baseline | goal |');
console.log('|---|---|---|---|---|---|');
for (const [name, t, base, bt, goal] of rows) {
  const r = bt ? ratio(t, bt) : '–';
  console.log(`| ${name} | ${fmt(t)} | ${base || '–'} | ${bt ? fmt(bt) : '–'} | ${r} | ${goal || '–'} |`);
}
