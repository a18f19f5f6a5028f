// Device attestation check of PROTOCOL.md §3, second implementation, sharing no code with
// lib/attestation_noble.mjs: plain JS values (JSON.parse-style objects, numbers), a
// sorted-keys JSON.stringify canonicaliser restricted to printable ASCII (where it provably
// equals Matrix canonical JSON), node:crypto (OpenSSL) Ed25519, and ethers' verifyMessage
// after the signature-format rules of PROTOCOL.md §1 (ethers itself is more lenient).
// Same rule names as failuresNoble (see there).
//
// failuresNode(deviceKeys, nowMs) -> { failures: sorted rule names, payloads: [{value, text}] }
// where payloads are the objects it signed-checked (self-signature payload, rebuilt attestation
// object) with their canonical text, so that check.mjs can compare them with python.
import crypto from 'node:crypto';
import { verifyMessage } from 'ethers';

const FIELD = 'network.raiden.attestation';
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

const isObj = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

// Canonical JSON for printable-ASCII data: sorted keys (UTF-16 order = code-point order for
// ASCII), JSON.stringify escapes (only \" and \\ occur for printable ASCII), integers only.
export function asciiCanonical(v) {
  if (typeof v === 'string') {
    if (!/^[\x20-\x7e]*$/.test(v)) throw new Error(`asciiCanonical: non-printable-ASCII string ${JSON.stringify(v)}`);
    return JSON.stringify(v);
  }
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || Object.is(v, -0)) throw new Error(`asciiCanonical: bad number ${v}`);
    return String(v);
  }
  if (v === null || v === true || v === false) return String(v);
  if (Array.isArray(v)) return `[${v.map(asciiCanonical).join(',')}]`;
  if (isObj(v)) {
    const ks = Object.keys(v).sort();
    return `{${ks.map((k) => `${asciiCanonical(k)}:${asciiCanonical(v[k])}`).join(',')}}`;
  }
  throw new Error(`asciiCanonical: unsupported ${typeof v}`);
}

function b64(s) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*$/.test(s) || s.length % 4 === 1) return null;
  let bin;
  try {
    bin = atob(s);
  } catch {
    return null;
  }
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  // zero trailing bits: re-encoding must give the same text
  if (btoa(bin).replace(/=+$/, '') !== s) return null;
  return bytes;
}

function ed25519Verify(pub, msg, sig) {
  try {
    const key = crypto.createPublicKey({ key: Buffer.concat([SPKI_ED25519, pub]), format: 'der', type: 'spki' });
    return crypto.verify(null, msg, key, sig);
  } catch {
    return false;
  }
}

// ecrecover with the acceptance rules of PROTOCOL.md §1, recovery done by ethers.
function recover(msg, sig) {
  if (typeof sig !== 'string' || sig.length !== 132 || !/^0x[0-9a-f]+$/.test(sig)) return null;
  const r = BigInt('0x' + sig.slice(2, 66));
  const s = BigInt('0x' + sig.slice(66, 130));
  const v = Number.parseInt(sig.slice(130), 16);
  if (![0, 1, 27, 28].includes(v)) return null;
  if (r === 0n || r >= N || s === 0n || s > N / 2n) return null;
  try {
    return verifyMessage(msg, sig).toLowerCase();
  } catch {
    return null;
  }
}

export function failuresNode(dk, nowMs) {
  const payloads = [];
  const result = (set) => ({ failures: [...set].sort(), payloads });
  if (!isObj(dk) || typeof dk.device_id !== 'string' || typeof dk.user_id !== 'string' || !isObj(dk.keys))
    return result(new Set(['device_keys']));
  const { device_id: deviceId, user_id: userId, keys } = dk;
  const bad = new Set();
  const own = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

  // Self-signature (Matrix signing: without "signatures" and "unsigned").
  const keyId = 'ed25519:' + deviceId;
  const pub = own(keys, keyId) ? b64(keys[keyId]) : null;
  const sigs = own(dk, 'signatures') && isObj(dk.signatures) && own(dk.signatures, userId) ? dk.signatures[userId] : null;
  const selfSig = isObj(sigs) && own(sigs, keyId) ? b64(sigs[keyId]) : null;
  const { signatures, unsigned, ...signedPart } = dk;
  const selfText = asciiCanonical(signedPart);
  payloads.push({ value: signedPart, text: selfText });
  if (!(pub && pub.length === 32 && selfSig && selfSig.length === 64 && ed25519Verify(pub, Buffer.from(selfText, 'utf8'), selfSig)))
    bad.add('self_signature');

  if (!own(dk, FIELD)) {
    bad.add('attestation_missing');
    return result(bad);
  }
  const att = dk[FIELD];
  if (!isObj(att)) {
    bad.add('attestation_fields');
    return result(bad);
  }
  const fields = Object.keys(att);
  if (fields.length !== 3 || !['address', 'issued_at', 'sig'].every((k) => own(att, k))) bad.add('attestation_fields');
  if (own(att, 'address') && !(typeof att.address === 'string' && /^0x[0-9a-f]{40}$/.test(att.address))) bad.add('address_format');
  if (own(att, 'issued_at') && !(Number.isSafeInteger(att.issued_at) && att.issued_at >= 0 && att.issued_at <= nowMs + 120 * 1000))
    bad.add('issued_at');
  if (own(att, 'sig') && !(typeof att.sig === 'string' && /^0x[0-9a-f]{130}$/.test(att.sig))) bad.add('sig_format');

  const at = userId.indexOf(':');
  const localpart = userId.startsWith('@') && at > 0 ? userId.slice(1, at) : null;
  if (localpart === null || localpart !== att.address) bad.add('localpart');

  const rebuilt = { user_id: userId, keys, device_id: deviceId };
  if (own(att, 'issued_at')) rebuilt.issued_at = att.issued_at;
  if (own(att, 'address')) rebuilt.address = att.address;
  const text = asciiCanonical(rebuilt);
  payloads.push({ value: rebuilt, text });
  const who = recover(Buffer.from(text, 'utf8'), att.sig);
  if (who === null || who !== att.address) bad.add('recover');
  return result(bad);
}
