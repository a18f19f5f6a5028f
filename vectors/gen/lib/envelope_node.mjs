// Signed-envelope check of PROTOCOL.md §4, rules 1-5, second implementation, sharing no code
// with lib/envelope_noble.mjs: plain JS values (as JSON.parse gives them), a schema written
// with character loops instead of regular expressions, its own canonical-JSON writer
// (code-point key order, JSON.stringify string escapes, which equal Matrix canonical JSON for
// well-formed strings), and ethers' verifyMessage after the signature rules of PROTOCOL.md §1
// (ethers itself is more lenient: it accepts some high-S values).
//
// envelopeResultNode(envelope, receiver, topic, nowMs) -> { result, payload, canonical }
//   result     "accepted" or the first failing rule of §4 (1-5)
//   payload    the text the signature is checked over (null when rule 1 fails)
//   canonical  the canonical text of the whole envelope (null when rule 1 fails)
import { verifyMessage } from 'ethers';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const LIMIT_BYTES = 32 * 1024;
const HOUR_MS = 60 * 60 * 1000;
const SKEW_MS = 2 * 60 * 1000;
const HEX_DIGITS = '0123456789abcdef';
const TOPIC_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789_';

const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const isObject = (x) => typeof x === 'object' && x !== null && !Array.isArray(x);

function allIn(s, alphabet) {
  for (const ch of s) if (!alphabet.includes(ch)) return false;
  return true;
}
function lowerHex(s, digits) {
  return typeof s === 'string' && s.length === digits && allIn(s, HEX_DIGITS);
}
function prefixedHex(s, digits) {
  return typeof s === 'string' && s.startsWith('0x') && lowerHex(s.slice(2), digits);
}
const isAddress = (s) => prefixedHex(s, 40);
const isNonce = (s) => lowerHex(s, 32);

function wellFormed(e) {
  if (!isObject(e)) return false;
  const allowed = ['acks', 'body', 'kind', 'nonce', 'recipient', 'sender', 'sig', 'topic', 'ts', 'v'];
  if (Object.keys(e).some((k) => !allowed.includes(k))) return false;
  if (!has(e, 'v') || e.v !== 1) return false;
  if (!has(e, 'sender') || !isAddress(e.sender)) return false;
  const unicast = has(e, 'recipient');
  const broadcast = has(e, 'topic');
  if (unicast && broadcast) return false;
  if (!unicast && !broadcast) return false;
  if (unicast && !isAddress(e.recipient)) return false;
  if (broadcast) {
    const t = e.topic;
    if (typeof t !== 'string' || t.length < 1 || t.length > 200 || !allIn(t, TOPIC_CHARS)) return false;
  }
  if (!has(e, 'nonce') || !isNonce(e.nonce)) return false;
  if (!has(e, 'ts') || typeof e.ts !== 'number' || !Number.isSafeInteger(e.ts) || e.ts < 0) return false;
  if (!has(e, 'sig') || !prefixedHex(e.sig, 130)) return false;
  switch (e.kind) {
    case 'message':
      if (has(e, 'acks')) return false;
      return has(e, 'body') && typeof e.body === 'string';
    case 'ack': {
      if (has(e, 'body')) return false;
      if (!has(e, 'acks') || !Array.isArray(e.acks)) return false;
      const n = e.acks.length;
      if (n === 0 || n > 256) return false;
      const seen = {};
      for (const a of e.acks) {
        if (!isNonce(a) || seen[a] === true) return false;
        seen[a] = true;
      }
      return true;
    }
    default:
      return false;
  }
}

function byCodePoint(a, b) {
  const x = Array.from(a, (c) => c.codePointAt(0));
  const y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

// Matrix canonical JSON of a plain value (strings must be well-formed UTF-16).
export function canonicalText(v) {
  if (v === null || typeof v === 'boolean') return String(v);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || Object.is(v, -0)) throw new Error(`canonicalText: ${v}`);
    return String(v);
  }
  if (typeof v === 'string') {
    if (!v.isWellFormed()) throw new Error('canonicalText: lone surrogate');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return '[' + v.map(canonicalText).join(',') + ']';
  if (isObject(v)) {
    return '{' + Object.keys(v).sort(byCodePoint).map((k) => canonicalText(k) + ':' + canonicalText(v[k])).join(',') + '}';
  }
  throw new Error(`canonicalText: ${typeof v}`);
}

// ecrecover with the acceptance rules of PROTOCOL.md §1, the recovery itself by ethers.
function recoverSigner(text, sig) {
  const r = BigInt('0x' + sig.slice(2, 66));
  const s = BigInt('0x' + sig.slice(66, 130));
  const v = Number('0x' + sig.slice(130, 132));
  if (!(v === 0 || v === 1 || v === 27 || v === 28)) return null;
  if (r === 0n || r >= N || s === 0n || s * 2n > N) return null;
  try {
    return verifyMessage(Buffer.from(text, 'utf8'), sig).toLowerCase();
  } catch {
    return null;
  }
}

export function envelopeResultNode(e, receiver, topic, nowMs) {
  const out = (result, payload = null, canonical = null) => ({ result, payload, canonical });
  if (!wellFormed(e)) return out('malformed');
  const canonical = canonicalText(e);
  const { sig, ...rest } = e;
  const payload = canonicalText(rest);
  if (Buffer.byteLength(canonical, 'utf8') > LIMIT_BYTES) return out('too_large', payload, canonical);
  if (recoverSigner(payload, sig) !== e.sender) return out('bad_signature', payload, canonical);
  const inRoom = topic !== null;
  if (has(e, 'recipient')) {
    if (inRoom || e.recipient !== receiver) return out('wrong_recipient', payload, canonical);
  } else if (!inRoom || e.topic !== topic) {
    return out('wrong_topic', payload, canonical);
  }
  const now = Number(nowMs);
  if (e.ts < now - HOUR_MS || e.ts > now + SKEW_MS) return out('expired', payload, canonical);
  return out('accepted', payload, canonical);
}
