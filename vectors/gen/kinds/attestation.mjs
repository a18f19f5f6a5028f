// attestation vectors (PROTOCOL.md §3): Matrix device_keys objects carrying the
// "network.raiden.attestation" field; valid = attested for the address of the user id (the
// Ed25519 self-signature verifies AND the attestation binds the device's keys to the address).
//
// Made with: @noble/curves 2.x Ed25519 (device keys, self-signatures; every signature also
// made with node:crypto and compared byte for byte), ethers `Wallet.signMessageSync` over the
// canonical JSON bytes of lib/strict_json.mjs (compared with @noble/curves signing by
// crossSign), @noble/curves x25519 for the curve25519 keys.
// Checked with: lib/attestation_noble.mjs (strict JSON model, noble Ed25519, protocol-rule
// recovery) and lib/attestation_node.mjs (plain objects, node:crypto Ed25519, ethers
// verifyMessage). Each case states the exact set of rules it breaks (none for a valid case);
// both checkers must find exactly that set, with a fixed clock and with this machine's clock.
import crypto from 'node:crypto';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { Wallet } from 'ethers';
import { SECP_N, utf8, seedBytes, seedKey, hex, assert, assertEq } from '../lib/common.mjs';
import { parseStrict, canonicalize } from '../lib/strict_json.mjs';
import { nobleAddress, eip55 } from '../lib/eth_noble.mjs';
import { crossSign } from './personal_sign.mjs';
import { failuresNoble, ATTESTATION_FIELD } from '../lib/attestation_noble.mjs';
import { failuresNode } from '../lib/attestation_node.mjs';

const ALGORITHMS = ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'];
const BASE_TIME = 1732528800000; // 2024-11-25T10:00:00Z
const FIXED_NOW = 1735689600000; // 2025-01-01T00:00:00Z, the generator's fixed clock
const YEAR_2100 = 4102444800000; // 2100-01-01T00:00:00Z
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

const b64 = (bytes) => Buffer.from(bytes).toString('base64').replace(/=+$/, '');
const canon = (plainValue) => canonicalize(parseStrict(JSON.stringify(plainValue)));
const clone = (v) => JSON.parse(JSON.stringify(v));

// Ed25519 signature with noble, compared with node:crypto (OpenSSL); unpadded base64.
function edSign(seed, text) {
  const msg = utf8(text);
  const sig = ed25519.sign(msg, seed);
  const key = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, Buffer.from(seed)]), format: 'der', type: 'pkcs8' });
  assertEq(hex(crypto.sign(null, msg, key)), hex(sig), 'noble vs node:crypto Ed25519 signature');
  return b64(sig);
}

// Deterministic device identity #i on a server: Ethereum key, Ed25519 and Curve25519 keys,
// a 10-letter device id as Synapse makes them.
function identity(i, server) {
  const ethKey = seedKey('attestation', i);
  const address = nobleAddress(ethKey);
  assertEq(new Wallet(hex(ethKey)).address.toLowerCase(), address, 'ethers vs noble address');
  const edSeed = seedBytes('attestation/ed25519', i);
  const edPub = ed25519.getPublicKey(edSeed);
  assertEq(
    hex(crypto.createPublicKey(crypto.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, Buffer.from(edSeed)]), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' }).subarray(12)),
    hex(edPub),
    'noble vs node:crypto Ed25519 public key',
  );
  const curvePub = x25519.getPublicKey(seedBytes('attestation/curve25519', i));
  const deviceId = [...seedBytes('attestation/device_id', i, 10)].map((b) => String.fromCharCode(65 + (b % 26))).join('');
  return { i, ethKey, address, edSeed, edPub, curvePub, deviceId, server, userId: `@${address}:${server}` };
}

function baseDevice(id) {
  return {
    algorithms: [...ALGORITHMS],
    device_id: id.deviceId,
    keys: { [`curve25519:${id.deviceId}`]: b64(id.curvePub), [`ed25519:${id.deviceId}`]: b64(id.edPub) },
    user_id: id.userId,
  };
}

// personal_sign (ethers, cross-checked with noble) over the canonical JSON of the rebuilt
// object; fields given as undefined are left out of it.
function attestationSig(ethKey, { address, device_id, issued_at, keys, user_id }, what) {
  const o = {};
  for (const [k, v] of Object.entries({ address, device_id, issued_at, keys, user_id })) if (v !== undefined) o[k] = v;
  return crossSign(ethKey, utf8(canon(o)), what);
}

// Adds the attestation of PROTOCOL.md §3 signed by `key` (default: the identity's own).
function attest(dk, id, issuedAt, { key = id.ethKey, address = nobleAddress(key) } = {}) {
  const sig = attestationSig(key, { address, device_id: dk.device_id, issued_at: issuedAt, keys: dk.keys, user_id: dk.user_id }, `attestation #${id.i}`);
  dk[ATTESTATION_FIELD] = { address, issued_at: issuedAt, sig };
  return dk;
}

// Matrix self-signature: Ed25519 over the canonical JSON without signatures and unsigned,
// stored under signatures[userId][keyId] (existing signatures kept).
function selfSign(dk, seed, { keyId = `ed25519:${dk.device_id}`, userId = dk.user_id } = {}) {
  const { signatures, unsigned, ...signed } = dk;
  const sig = edSign(seed, canon(signed));
  const sigs = clone(signatures ?? {});
  sigs[userId] = { ...(sigs[userId] ?? {}), [keyId]: sig };
  dk.signatures = sigs;
  return dk;
}

const splitSig = (sig) => ({ r: BigInt('0x' + sig.slice(2, 66)), s: BigInt('0x' + sig.slice(66, 130)), v: parseInt(sig.slice(130), 16) });
const joinSig = (r, s, v) => '0x' + r.toString(16).padStart(64, '0') + s.toString(16).padStart(64, '0') + v.toString(16).padStart(2, '0');

export function generate() {
  const cases = [];
  const now = Date.now();
  assert(now > FIXED_NOW && now + 120000 < YEAR_2100, 'this machine\'s clock is between 2025 and 2100');
  const add = (comment, dk, breaks) => {
    const doc = clone(dk);
    const want = [...breaks].sort();
    for (const t of [FIXED_NOW, now]) {
      assertEq(JSON.stringify(failuresNoble(parseStrict(JSON.stringify(doc)), t)), JSON.stringify(want), `noble checker (${comment})`);
      assertEq(JSON.stringify(failuresNode(doc, t).failures), JSON.stringify(want), `node:crypto/ethers checker (${comment})`);
    }
    cases.push({ comment: want.length ? `${comment} [breaks: ${want.join(', ')}]` : comment, device_keys: doc, valid: want.length === 0 });
  };
  let n = 0;
  const at = () => BASE_TIME + 3600123 * n++; // distinct past timestamps

  // ---- valid devices
  const servers = ['localhost', 'matrix.example.org', 'localhost:8008', 'transport.raiden.network', '[::1]:8448'];
  servers.forEach((server, i) => {
    const id = identity(i, server);
    add(`valid: attested device on ${server}`, selfSign(attest(baseDevice(id), id, at()), id.edSeed), []);
  });
  {
    const id = identity(5, 'localhost');
    const dk = attest(baseDevice(id), id, at());
    dk['org.example.unknown'] = { note: 'added before the self-signature', n: 1 };
    add('valid: unknown top-level field added before self-signing (covered by the self-signature, not by the attestation)', selfSign(dk, id.edSeed), []);
  }
  {
    const id = identity(6, 'matrix.example.org');
    const dk = selfSign(attest(baseDevice(id), id, at()), id.edSeed);
    dk.unsigned = { device_display_name: 'raiden node' };
    add('valid: "unsigned" added after signing (excluded from the self-signature)', dk, []);
  }
  {
    // the same attestation signature written with v in {0, 1}: look for one device of each v
    const found = {};
    for (let i = 100; !(found[27] && found[28]); i++) {
      const id = identity(i, 'localhost');
      const dk = attest(baseDevice(id), id, at());
      const { v } = splitSig(dk[ATTESTATION_FIELD].sig);
      if (!found[v]) found[v] = { id, dk };
    }
    for (const v of [27, 28]) {
      const { id, dk } = found[v];
      const { r, s } = splitSig(dk[ATTESTATION_FIELD].sig);
      dk[ATTESTATION_FIELD].sig = joinSig(r, s, v - 27);
      add(`valid: attestation sig with v=${v - 27} instead of ${v} (verifiers accept v in {0, 1, 27, 28})`, selfSign(dk, id.edSeed), []);
    }
  }
  {
    // every object written in reverse key order: the checks must canonicalize, not hash the text
    const id = identity(7, 'localhost:8008');
    const dk = selfSign(attest(baseDevice(id), id, at()), id.edSeed);
    const reverse = (o) => Object.fromEntries(Object.keys(o).reverse().map((k) => [k, o[k] && typeof o[k] === 'object' && !Array.isArray(o[k]) ? reverse(o[k]) : o[k]]));
    const rev = reverse(dk);
    assert(JSON.stringify(rev) !== JSON.stringify(dk) && canon(rev) === canon(dk), 'reversed order, same canonical JSON');
    add('valid: every object written with its keys in reverse order (signatures are over canonical JSON)', rev, []);
  }
  {
    // a cross-signed device: an extra signature by the user's self-signing key
    const id = identity(8, 'matrix.example.org');
    const dk = selfSign(attest(baseDevice(id), id, at()), id.edSeed);
    const ssk = seedBytes('attestation/self-signing-key', 8);
    selfSign(dk, ssk, { keyId: `ed25519:${b64(ed25519.getPublicKey(ssk))}` });
    add('valid: a second signature (cross-signing self-signing key) next to the device\'s own', dk, []);
  }
  {
    const id = identity(9, 'localhost');
    add('valid: issued_at = 0 (the smallest allowed value)', selfSign(attest(baseDevice(id), id, 0), id.edSeed), []);
  }

  // ---- invalid devices
  {
    const id = identity(10, 'localhost');
    add('attestation added after the self-signature (the self-signature does not cover it)', attest(selfSign(baseDevice(id), id.edSeed), id, at()), ['self_signature']);
  }
  {
    const id = identity(11, 'matrix.example.org');
    const other = seedBytes('attestation/other-ed25519', 11);
    add('self-signature made by another Ed25519 key than keys["ed25519:DEVICE"]', selfSign(attest(baseDevice(id), id, at()), other), ['self_signature']);
  }
  {
    const id = identity(12, 'localhost');
    const dk = selfSign(attest(baseDevice(id), id, at()), id.edSeed);
    dk.keys[`curve25519:${id.deviceId}`] = b64(x25519.getPublicKey(seedBytes('attestation/other-curve25519', 12)));
    add('keys changed after signing: curve25519 key replaced', dk, ['self_signature', 'recover']);
  }
  {
    const a = identity(13, 'localhost');
    const b = identity(14, 'localhost');
    const dk = attest(baseDevice(a), a, at(), { key: b.ethKey });
    add('address is not the localpart of user_id: attestation correctly signed by key B for the device of user A', selfSign(dk, a.edSeed), ['localpart']);
  }
  {
    const id = identity(15, 'matrix.example.org');
    const dk = baseDevice(id);
    const issuedAt = at();
    const sig = attestationSig(id.ethKey, { address: id.address, device_id: dk.device_id, issued_at: issuedAt, keys: dk.keys, user_id: `@${id.address}:localhost` }, 'other server');
    dk[ATTESTATION_FIELD] = { address: id.address, issued_at: issuedAt, sig };
    add('attestation sig made over user_id "@A:localhost", device is on matrix.example.org (the localpart matches, the rebuilt object does not)', selfSign(dk, id.edSeed), ['recover']);
  }
  {
    const id = identity(16, 'localhost');
    const b = identity(17, 'localhost');
    const dk = baseDevice(id);
    const issuedAt = at();
    const sig = attestationSig(b.ethKey, { address: id.address, device_id: dk.device_id, issued_at: issuedAt, keys: dk.keys, user_id: dk.user_id }, 'other eth key');
    dk[ATTESTATION_FIELD] = { address: id.address, issued_at: issuedAt, sig };
    add('attestation sig made by another Ethereum key (address and user_id are A\'s)', selfSign(dk, id.edSeed), ['recover']);
  }
  {
    const id = identity(18, 'localhost');
    const dk = attest(baseDevice(id), id, at());
    dk[ATTESTATION_FIELD].expires_at = BASE_TIME + 86400000 * 365;
    add('attestation with a fourth field "expires_at" (the sig covers the rebuilt object, so it still recovers A)', selfSign(dk, id.edSeed), ['attestation_fields']);
  }
  {
    const id = identity(19, 'localhost');
    const dk = baseDevice(id);
    const sig = attestationSig(id.ethKey, { address: id.address, device_id: dk.device_id, keys: dk.keys, user_id: dk.user_id }, 'no issued_at');
    dk[ATTESTATION_FIELD] = { address: id.address, sig };
    add('attestation without issued_at (sig over the rebuilt object without issued_at, so it recovers A)', selfSign(dk, id.edSeed), ['attestation_fields']);
  }
  {
    const id = identity(30, 'localhost');
    add('issued_at is a string "1732528800000" (sig over the object with the string)', selfSign(attest(baseDevice(id), id, String(BASE_TIME)), id.edSeed), ['issued_at']);
  }
  {
    const id = identity(31, 'matrix.example.org');
    add(`issued_at = ${YEAR_2100} (year 2100): more than 120 s in the future`, selfSign(attest(baseDevice(id), id, YEAR_2100), id.edSeed), ['issued_at']);
  }
  {
    const id = identity(32, 'localhost');
    add('issued_at = -1 (negative)', selfSign(attest(baseDevice(id), id, -1), id.edSeed), ['issued_at']);
  }
  {
    const id = identity(33, 'localhost');
    const checksummed = eip55(id.address);
    assert(checksummed !== id.address, 'address has letters');
    const dk = attest(baseDevice(id), id, at(), { address: checksummed });
    add('address written EIP-55 checksummed (uppercase letters) while user_id is lowercase; sig over the object with the checksummed address', selfSign(dk, id.edSeed), ['address_format', 'localpart', 'recover']);
  }
  {
    const id = identity(34, 'localhost');
    const dk = attest(baseDevice(id), id, at(), { address: id.address.slice(2) });
    add('address without "0x"; sig over the object with that address', selfSign(dk, id.edSeed), ['address_format', 'localpart', 'recover']);
  }
  {
    const id = identity(35, 'localhost:8008');
    const dk = attest(baseDevice(id), id, at());
    const { r, s, v } = splitSig(dk[ATTESTATION_FIELD].sig);
    dk[ATTESTATION_FIELD].sig = joinSig(r, SECP_N - s, v === 27 ? 28 : 27);
    add(`attestation sig replaced by its high-S twin (s' = n - s, v ${v} -> ${v === 27 ? 28 : 27}; same key mathematically, refused)`, selfSign(dk, id.edSeed), ['recover']);
  }
  {
    const id = identity(36, 'localhost');
    const dk = attest(baseDevice(id), id, at());
    dk[ATTESTATION_FIELD].sig = dk[ATTESTATION_FIELD].sig.slice(0, 130);
    add('attestation sig of 64 bytes (r || s without v)', selfSign(dk, id.edSeed), ['sig_format', 'recover']);
  }
  {
    const id = identity(37, 'localhost');
    const dk = attest(baseDevice(id), id, at());
    dk[ATTESTATION_FIELD].sig = '0x' + dk[ATTESTATION_FIELD].sig.slice(2).toUpperCase();
    add('attestation sig in uppercase hex', selfSign(dk, id.edSeed), ['sig_format', 'recover']);
  }
  {
    const id = identity(38, 'matrix.example.org');
    add('no network.raiden.attestation field (a plain Matrix device)', selfSign(baseDevice(id), id.edSeed), ['attestation_missing']);
  }
  {
    const id = identity(39, 'localhost');
    const dk = attest(baseDevice(id), id, at());
    dk[ATTESTATION_FIELD] = dk[ATTESTATION_FIELD].sig;
    add('network.raiden.attestation is the sig string, not an object', selfSign(dk, id.edSeed), ['attestation_fields']);
  }
  {
    const id = identity(40, 'localhost');
    add('no "signatures" field (attestation correct)', attest(baseDevice(id), id, at()), ['self_signature']);
  }
  {
    const id = identity(41, 'localhost');
    const other = identity(42, 'localhost');
    const dk = baseDevice(id);
    dk.device_id = other.deviceId;
    attest(dk, id, at());
    add(`device_id "${other.deviceId}" does not match the key ids "...:${id.deviceId}" (attestation over this object; self-signature by the keys' ed25519 key under "ed25519:${id.deviceId}")`, selfSign(dk, id.edSeed, { keyId: `ed25519:${id.deviceId}` }), ['self_signature']);
  }
  {
    const id = identity(43, 'localhost');
    const dk = baseDevice(id);
    const issuedAt = at();
    const sig = attestationSig(id.ethKey, { address: id.address, device_id: dk.device_id, issued_at: issuedAt, keys: { [`ed25519:${id.deviceId}`]: dk.keys[`ed25519:${id.deviceId}`] }, user_id: dk.user_id }, 'keys without curve25519');
    dk[ATTESTATION_FIELD] = { address: id.address, issued_at: issuedAt, sig };
    add('attestation sig over the object with "keys" missing the curve25519 key (the whole keys map is covered)', selfSign(dk, id.edSeed), ['recover']);
  }
  {
    const id = identity(44, 'localhost');
    const dk = attest(baseDevice(id), id, at());
    add('self-signature filed under another user id ("@A:matrix.example.org") than the device\'s', selfSign(dk, id.edSeed, { userId: `@${id.address}:matrix.example.org` }), ['self_signature']);
  }
  {
    // a rogue server invents a device for A and reuses the attestation of A's real device
    const real = identity(45, 'localhost');
    const rogue = { ...identity(46, 'localhost'), address: real.address, userId: real.userId, ethKey: null };
    const stolen = attest(baseDevice(real), real, at())[ATTESTATION_FIELD];
    const dk = baseDevice(rogue);
    dk[ATTESTATION_FIELD] = stolen;
    add('attestation copied from another device of the same user (a device invented by the server, self-signed by its own key)', selfSign(dk, rogue.edSeed), ['recover']);
  }

  // both v values occur among valid attestation signatures, also as 0/1
  const vs = new Set(cases.filter((c) => c.valid).map((c) => c.device_keys[ATTESTATION_FIELD].sig.slice(130)));
  for (const v of ['00', '01', '1b', '1c']) assert(vs.has(v), `a valid case with v=0x${v}`);
  return { kind: 'attestation', cases };
}
