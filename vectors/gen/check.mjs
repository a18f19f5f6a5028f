#!/usr/bin/env node
// Strict re-check of vector files: the file must be strict JSON as the mrt reader wants it
// (UTF-8, no BOM, no floats/exponents/-0, integers within ±(2^53-1), no duplicate keys), each
// case must have exactly the fields of PROTOCOL.md §7 (plus an optional "comment"), and every
// expected value is recomputed with a second implementation.
//   node vectors/gen/check.mjs                 # every vectors/*.json of the kinds below
//   node vectors/gen/check.mjs vectors/x.json  # given files
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Wallet, keccak256 as ethersKeccak, computeAddress, verifyMessage, recoverAddress, hashMessage, decryptKeystoreJsonSync } from 'ethers';
import { parseStrict, canonicalize, JsonError } from './lib/strict_json.mjs';
import { refKeccak256 } from './lib/ref_keccak.mjs';
import { unhex, utf8, utf8Decode } from './lib/common.mjs';
import { nobleSign, nobleAddress, eip55, expectedRecover } from './lib/eth_noble.mjs';
import { nodeDecrypt } from './lib/keystore_node.mjs';
import { failuresNoble } from './lib/attestation_noble.mjs';
import { failuresNode } from './lib/attestation_node.mjs';
import { envelopeResultNoble } from './lib/envelope_noble.mjs';
import { envelopeResultNode } from './lib/envelope_node.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const HEX = /^0x([0-9a-f]{2})*$/;

// model (Map / BigInt) -> plain JS, for convenience
function plain(v) {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Map) {
    const o = {};
    for (const [k, x] of v) o[k] = plain(x);
    return o;
  }
  return v;
}
// model -> JSON text keeping document order (for the python reference)
function modelText(v) {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return '[' + v.map(modelText).join(',') + ']';
  if (v instanceof Map) return '{' + [...v].map(([k, x]) => JSON.stringify(k) + ':' + modelText(x)).join(',') + '}';
  return JSON.stringify(v);
}

const SCHEMA = {
  keccak256: [{ input: 'hex', hash: 'hex' }],
  eth_address: [{ private_key: 'hex', address: 'string' }],
  personal_sign: [{ private_key: 'hex', message: 'hex', signature: 'hex' }],
  ecrecover: [{ message: 'hex', signature: 'string', address: 'addr|null' }],
  canonical_json: [{ input: 'any', canonical: 'string' }, { input_text: 'string', error: 'true' }, { input_hex: 'hex', error: 'true' }],
  matrix_identity: [{ private_key: 'hex', server_name: 'string', user_id: 'string', password: 'hex', displayname: 'hex' }],
  attestation: [{ device_keys: 'object', valid: 'bool' }],
  envelope: [{ envelope: 'object', receiver: 'addr|null', topic: 'string|null', now: 'ms', result: 'envelope_result' }],
  keystore_v3: [{ keystore: 'object', password: 'string', private_key: 'hex|null' }],
  megolm_decrypt: [{ session_key: 'string', ciphertext: 'string', plaintext: 'string|null', message_index: 'uint' }],
};

function typeOk(t, v) {
  switch (t) {
    case 'hex': return typeof v === 'string' && HEX.test(v);
    case 'string': return typeof v === 'string';
    case 'addr|null': return v === null || (typeof v === 'string' && /^0x[0-9a-f]{40}$/.test(v));
    case 'hex|null': return v === null || (typeof v === 'string' && HEX.test(v));
    case 'true': return v === true;
    case 'bool': return v === true || v === false;
    case 'object': return v instanceof Map;
    case 'any': return true;
    case 'string|null': return v === null || typeof v === 'string';
    case 'uint': return typeof v === 'bigint' && v >= 0n && v <= 0xffffffffn;
    case 'ms': return typeof v === 'bigint' && v >= 0n;
    case 'envelope_result': return ['accepted', 'malformed', 'too_large', 'bad_signature', 'wrong_recipient', 'wrong_topic', 'expired'].includes(v);
  }
  throw new Error(t);
}

function fail(file, i, msg) {
  throw new Error(`${file}: case ${i}: ${msg}`);
}

export async function checkFile(file) {
  const bytes = fs.readFileSync(file);
  if (bytes.length > 1024 * 1024) throw new Error(`${file}: larger than 1 MiB`);
  let doc;
  try {
    doc = parseStrict(bytes);
  } catch (e) {
    throw new Error(`${file}: not strict JSON: ${e.message}`);
  }
  if (!(doc instanceof Map) || doc.size !== 2 || typeof doc.get('kind') !== 'string' || !Array.isArray(doc.get('cases')))
    throw new Error(`${file}: top level must be {"kind", "cases"}`);
  const kind = doc.get('kind');
  const schemas = SCHEMA[kind];
  if (!schemas) throw new Error(`${file}: unknown kind ${kind}`);
  const cases = doc.get('cases');
  if (cases.length === 0) throw new Error(`${file}: no cases`);
  cases.forEach((c, i) => {
    if (!(c instanceof Map)) fail(file, i, 'case is not an object');
    if (c.has('comment') && typeof c.get('comment') !== 'string') fail(file, i, 'comment is not a string');
    const keys = [...c.keys()].filter((k) => k !== 'comment').sort();
    const s = schemas.find((sc) => JSON.stringify(Object.keys(sc).sort()) === JSON.stringify(keys));
    if (!s) fail(file, i, `unexpected fields ${keys.join(',')}`);
    for (const [k, t] of Object.entries(s)) if (!typeOk(t, c.get(k))) fail(file, i, `field ${k} is not ${t}`);
  });
  await VERIFY[kind](cases.map((c) => ({ model: c, p: plain(c) })), (i, m) => fail(file, i, m));
  return cases.length;
}

const eq = (a, b, i, what, f) => {
  if (a !== b) f(i, `${what}: expected ${JSON.stringify(b)}, second implementation gives ${JSON.stringify(a)}`);
};

const VERIFY = {
  keccak256(cases, f) {
    cases.forEach(({ p }, i) => {
      const input = unhex(p.input);
      eq(ethersKeccak(input), p.hash, i, 'ethers keccak256', f);
      eq('0x' + Buffer.from(refKeccak256(input)).toString('hex'), p.hash, i, 'reference keccak256', f);
    });
  },
  eth_address(cases, f) {
    cases.forEach(({ p }, i) => {
      eq(computeAddress(p.private_key), p.address, i, 'ethers computeAddress', f);
      eq(eip55(nobleAddress(unhex(p.private_key))), p.address, i, 'noble + EIP-55', f);
    });
  },
  personal_sign(cases, f) {
    cases.forEach(({ p }, i) => {
      const msg = unhex(p.message);
      eq('0x' + Buffer.from(nobleSign(unhex(p.private_key), msg)).toString('hex'), p.signature, i, 'noble sign', f);
      eq(new Wallet(p.private_key).signMessageSync(msg), p.signature, i, 'ethers signMessageSync', f);
      eq(verifyMessage(msg, p.signature), computeAddress(p.private_key), i, 'ethers verifyMessage', f);
    });
  },
  ecrecover(cases, f) {
    cases.forEach(({ p }, i) => {
      const msg = unhex(p.message);
      eq(expectedRecover(msg, p.signature), p.address, i, 'noble recovery with protocol rules', f);
      if (p.address !== null) eq(recoverAddress(hashMessage(msg), p.signature).toLowerCase(), p.address, i, 'ethers recoverAddress', f);
    });
  },
  canonical_json(cases, f) {
    const valid = [];
    cases.forEach(({ model, p }, i) => {
      if (model.has('canonical')) {
        eq(canonicalize(model.get('input')), p.canonical, i, 'JS canonicaliser', f);
        valid.push({ i, text: modelText(model.get('input')), canonical: p.canonical });
      } else {
        const input = model.has('input_text') ? utf8(p.input_text) : unhex(p.input_hex);
        let refused = false;
        try {
          parseStrict(input);
        } catch (e) {
          if (!(e instanceof JsonError)) throw e;
          refused = true;
        }
        if (!refused) f(i, 'error case accepted by the strict parser');
      }
    });
    const py = spawnSync('/usr/bin/python3', [path.join(here, 'canonical_json.py')], {
      input: JSON.stringify(valid.map((v) => v.text)),
      encoding: 'utf8',
    });
    if (py.status !== 0) throw new Error(`python canonicaljson failed: ${py.stderr}`);
    JSON.parse(py.stdout).results.forEach((h, j) =>
      eq(utf8Decode(Buffer.from(h, 'hex')), valid[j].canonical, valid[j].i, 'python canonicaljson', f),
    );
  },
  matrix_identity(cases, f) {
    cases.forEach(({ p }, i) => {
      const pk = unhex(p.private_key);
      const lower = nobleAddress(pk);
      eq(`@${lower}:${p.server_name}`, p.user_id, i, 'user id', f);
      eq('0x' + Buffer.from(nobleSign(pk, utf8(p.server_name))).toString('hex'), p.password, i, 'noble password', f);
      eq('0x' + Buffer.from(nobleSign(pk, utf8(p.user_id))).toString('hex'), p.displayname, i, 'noble displayname', f);
      eq(verifyMessage(p.server_name, p.password).toLowerCase(), lower, i, 'ethers verify password', f);
      eq(verifyMessage(p.user_id, p.displayname).toLowerCase(), lower, i, 'ethers verify displayname', f);
    });
  },
  attestation(cases, f) {
    // "now" is this machine's clock, as for the mrt runner (the cases carry none)
    const now = Date.now();
    const payloads = [];
    cases.forEach(({ model, p }, i) => {
      const dk = model.get('device_keys');
      const a = failuresNoble(dk, now);
      const b = failuresNode(p.device_keys, now);
      eq(a.length === 0, p.valid, i, `strict model + noble Ed25519 + noble recovery (breaks ${a.join(',') || 'nothing'})`, f);
      eq(b.failures.length === 0, p.valid, i, `plain JSON + node:crypto Ed25519 + ethers verifyMessage (breaks ${b.failures.join(',') || 'nothing'})`, f);
      eq(JSON.stringify(b.failures), JSON.stringify(a), i, 'rules broken, noble vs node:crypto/ethers checker', f);
      for (const pl of b.payloads) payloads.push({ i, text: JSON.stringify(pl.value), canonical: pl.text });
    });
    // the signed payloads' canonical JSON, also with python canonicaljson (Synapse's)
    const py = spawnSync('/usr/bin/python3', [path.join(here, 'canonical_json.py')], {
      input: JSON.stringify(payloads.map((x) => x.text)),
      encoding: 'utf8',
    });
    if (py.status !== 0) throw new Error(`python canonicaljson failed: ${py.stderr}`);
    JSON.parse(py.stdout).results.forEach((h, j) =>
      eq(utf8Decode(Buffer.from(h, 'hex')), payloads[j].canonical, payloads[j].i, 'canonical JSON of a signed payload vs python canonicaljson', f),
    );
  },
  envelope(cases, f) {
    const texts = [];
    cases.forEach(({ model, p }, i) => {
      if (p.topic === null && p.receiver === null) f(i, 'a unicast carrier (topic null) needs a receiver');
      const a = envelopeResultNoble(model.get('envelope'), p.receiver, p.topic, p.now);
      const b = envelopeResultNode(p.envelope, p.receiver, p.topic, p.now);
      eq(a, p.result, i, 'strict model + regex schema + noble recovery', f);
      eq(b.result, p.result, i, 'plain JSON + loop schema + own canonical writer + ethers verifyMessage', f);
      if (b.canonical !== null) {
        const unsigned = { ...p.envelope };
        delete unsigned.sig;
        texts.push({ i, text: JSON.stringify(p.envelope), canonical: b.canonical }, { i, text: JSON.stringify(unsigned), canonical: b.payload });
      }
    });
    // the envelopes' and signed payloads' canonical JSON, also with python canonicaljson
    const py = spawnSync('/usr/bin/python3', [path.join(here, 'canonical_json.py')], {
      input: JSON.stringify(texts.map((x) => x.text)),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (py.status !== 0) throw new Error(`python canonicaljson failed: ${py.stderr}`);
    JSON.parse(py.stdout).results.forEach((h, j) =>
      eq(utf8Decode(Buffer.from(h, 'hex')), texts[j].canonical, texts[j].i, 'canonical JSON of an envelope / signed payload vs python canonicaljson', f),
    );
  },
  async megolm_decrypt(cases, f) {
    // vodozemac, libolm and lib/megolm_ref.mjs (loaded only for this kind: wasm)
    const { checkMegolmCase } = await import('./lib/megolm_check.mjs');
    for (const [i, { p }] of cases.entries()) {
      const { problems } = await checkMegolmCase(p);
      if (problems.length) f(i, problems.join('; '));
    }
  },
  keystore_v3(cases, f) {
    cases.forEach(({ p }, i) => {
      const pw = utf8(p.password);
      eq(nodeDecrypt(p.keystore, pw), p.private_key, i, 'node:crypto keystore reader', f);
      let viaEthers = null;
      try {
        viaEthers = decryptKeystoreJsonSync(JSON.stringify(p.keystore), pw).privateKey;
      } catch {}
      // ethers' scrypt enforces RFC 7914's N < 2^(16 r); geth and the official vector do not
      const c = p.keystore.crypto ?? p.keystore.Crypto;
      const rfcBound = c.kdf === 'scrypt' && c.kdfparams.n >= 2 ** (16 * c.kdfparams.r);
      if (!rfcBound) eq(viaEthers, p.private_key, i, 'ethers decryptKeystoreJsonSync (password as bytes)', f);
    });
  },
};

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = process.argv.slice(2);
  const list = files.length ? files : Object.keys(SCHEMA).map((k) => path.join(here, '..', `${k}.json`)).filter((f) => fs.existsSync(f));
  for (const file of list) console.log(`${file}: ${await checkFile(file)} cases ok`);
}
