// Device attestation check of PROTOCOL.md §3, first implementation: the strict JSON model of
// lib/strict_json.mjs (Map / BigInt, its canonicaliser), @noble/curves 2.x Ed25519 and the
// protocol-rule secp256k1 recovery of lib/eth_noble.mjs.
//
// failuresNoble(deviceKeys, nowMs) returns the sorted list of the rules the device breaks
// (empty = attested for the address of its user id). Every rule is evaluated on its own, so
// the generator can assert that an invalid case breaks exactly the rules it was built to break:
//   device_keys          not an object, or device_id / user_id not strings, keys not an object
//   self_signature       signatures[user_id]["ed25519:" + device_id] does not verify with
//                        keys["ed25519:" + device_id] over the canonical JSON of the object
//                        without "signatures" and "unsigned" (Matrix signing rules)
//   attestation_missing  no "network.raiden.attestation" field (nothing else is checked then)
//   attestation_fields   the attestation is not an object with exactly address, issued_at, sig
//   address_format       address is not "0x" + 40 lowercase hex
//   issued_at            issued_at is not an integer with 0 <= issued_at <= now + 120 s
//   sig_format           sig is not "0x" + 130 lowercase hex
//   localpart            address is not the localpart of user_id ("@<localpart>:<server>")
//   recover              ecrecover (PROTOCOL.md §1 rules) of sig over the canonical JSON of
//                        {address, device_id, issued_at, keys, user_id} (those present) is not
//                        address
import { ed25519 } from '@noble/curves/ed25519.js';
import { canonicalize } from './strict_json.mjs';
import { utf8 } from './common.mjs';
import { expectedRecover } from './eth_noble.mjs';

export const ATTESTATION_FIELD = 'network.raiden.attestation';
export const MAX_FUTURE_MS = 120000n;

// Unpadded standard base64 (Matrix), strict: alphabet, length, zero trailing bits.
export function unb64(s) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*$/.test(s) || s.length % 4 === 1) return null;
  const b = Buffer.from(s, 'base64');
  if (b.toString('base64').replace(/=+$/, '') !== s) return null;
  return new Uint8Array(b);
}

export function failuresNoble(dk, nowMs) {
  const now = BigInt(nowMs);
  if (!(dk instanceof Map)) return ['device_keys'];
  const deviceId = dk.get('device_id');
  const userId = dk.get('user_id');
  const keys = dk.get('keys');
  if (typeof deviceId !== 'string' || typeof userId !== 'string' || !(keys instanceof Map)) return ['device_keys'];
  const out = new Set();

  // Rule 1: the device's Ed25519 self-signature.
  {
    const keyId = `ed25519:${deviceId}`;
    const pub = unb64(keys.get(keyId));
    const sigs = dk.get('signatures');
    const mine = sigs instanceof Map ? sigs.get(userId) : undefined;
    const sig = mine instanceof Map ? unb64(mine.get(keyId)) : null;
    let ok = false;
    if (pub && pub.length === 32 && sig && sig.length === 64) {
      const signed = new Map(dk);
      signed.delete('signatures');
      signed.delete('unsigned');
      try {
        ok = ed25519.verify(sig, utf8(canonicalize(signed)), pub, { zip215: false });
      } catch {
        ok = false;
      }
    }
    if (!ok) out.add('self_signature');
  }

  // Rules 2-4: the attestation.
  if (!dk.has(ATTESTATION_FIELD)) {
    out.add('attestation_missing');
    return [...out].sort();
  }
  const att = dk.get(ATTESTATION_FIELD);
  if (!(att instanceof Map)) {
    out.add('attestation_fields');
    return [...out].sort();
  }
  const names = [...att.keys()].sort().join(',');
  if (names !== 'address,issued_at,sig') out.add('attestation_fields');
  const address = att.get('address');
  if (att.has('address') && !(typeof address === 'string' && /^0x[0-9a-f]{40}$/.test(address))) out.add('address_format');
  if (att.has('issued_at')) {
    const t = att.get('issued_at');
    if (!(typeof t === 'bigint' && t >= 0n && t <= now + MAX_FUTURE_MS)) out.add('issued_at');
  }
  const sig = att.get('sig');
  if (att.has('sig') && !(typeof sig === 'string' && /^0x[0-9a-f]{130}$/.test(sig))) out.add('sig_format');

  const m = /^@([^:]*):/.exec(userId);
  if (!(m && typeof address === 'string' && m[1] === address)) out.add('localpart');

  let recovered = null;
  if (typeof sig === 'string') {
    const rebuilt = new Map();
    if (att.has('address')) rebuilt.set('address', address);
    rebuilt.set('device_id', deviceId);
    if (att.has('issued_at')) rebuilt.set('issued_at', att.get('issued_at'));
    rebuilt.set('keys', keys);
    rebuilt.set('user_id', userId);
    recovered = expectedRecover(utf8(canonicalize(rebuilt)), sig);
  }
  if (recovered === null || recovered !== address) out.add('recover');
  return [...out].sort();
}
