// Signed-envelope check of PROTOCOL.md §4, rules 1-5, first implementation: the strict JSON
// model of lib/strict_json.mjs (Map / BigInt, its canonicaliser), regular expressions for the
// schema, and the protocol-rule secp256k1 recovery of lib/eth_noble.mjs (@noble/curves 2.x).
//
// envelopeResultNoble(envelope, receiver, topic, now) -> "accepted" or the first failing rule:
//   envelope  the envelope as a strict-JSON model value (Map for an object)
//   receiver  lowercase address string or null: whose unicast carrier it arrived on
//   topic     null: it arrived on a unicast carrier of `receiver`; a string: it arrived in the
//             broadcast room of that topic
//   now       ms since epoch (number or BigInt)
// Limits: the defaults of §4 (32,768 bytes, max_age 3,600,000 ms, 120 s into the future).
import { canonicalize } from './strict_json.mjs';
import { utf8 } from './common.mjs';
import { expectedRecover } from './eth_noble.mjs';

export const MAX_ENVELOPE_BYTES = 32768;
export const MAX_AGE_MS = 3600000n;
export const MAX_FUTURE_MS = 120000n;
export const MAX_ACKS = 256;
const MAX_SAFE = 9007199254740991n;

const ADDRESS = /^0x[0-9a-f]{40}$/;
const NONCE = /^[0-9a-f]{32}$/;
const TOPIC = /^[a-z0-9_]{1,200}$/;
const SIG = /^0x[0-9a-f]{130}$/;
const FIELDS = new Set(['v', 'kind', 'sender', 'recipient', 'topic', 'nonce', 'ts', 'body', 'acks', 'sig']);

const isStr = (x, re) => typeof x === 'string' && re.test(x);

// Rule 1: the schema. Returns true iff the envelope is well formed.
export function schemaOkNoble(e) {
  if (!(e instanceof Map)) return false;
  for (const k of e.keys()) if (!FIELDS.has(k)) return false;
  for (const k of ['v', 'kind', 'sender', 'nonce', 'ts', 'sig']) if (!e.has(k)) return false;
  if (e.get('v') !== 1n) return false;
  if (!isStr(e.get('sender'), ADDRESS)) return false;
  if (e.has('recipient') === e.has('topic')) return false;
  if (e.has('recipient') && !isStr(e.get('recipient'), ADDRESS)) return false;
  if (e.has('topic') && !isStr(e.get('topic'), TOPIC)) return false;
  if (!isStr(e.get('nonce'), NONCE)) return false;
  const ts = e.get('ts');
  if (!(typeof ts === 'bigint' && ts >= 0n && ts <= MAX_SAFE)) return false;
  if (!isStr(e.get('sig'), SIG)) return false;
  const kind = e.get('kind');
  if (kind === 'message') {
    return !e.has('acks') && typeof e.get('body') === 'string';
  }
  if (kind === 'ack') {
    if (e.has('body')) return false;
    const acks = e.get('acks');
    if (!Array.isArray(acks) || acks.length < 1 || acks.length > MAX_ACKS) return false;
    if (!acks.every((a) => isStr(a, NONCE))) return false;
    return new Set(acks).size === acks.length;
  }
  return false;
}

// The bytes the signature is over: canonical JSON of the envelope without "sig".
export function signingPayloadNoble(e) {
  const unsigned = new Map(e);
  unsigned.delete('sig');
  return canonicalize(unsigned);
}

export function envelopeResultNoble(e, receiver, topic, now) {
  const nowB = BigInt(now);
  // 1
  if (!schemaOkNoble(e)) return 'malformed';
  // 2
  if (utf8(canonicalize(e)).length > MAX_ENVELOPE_BYTES) return 'too_large';
  // 3
  if (expectedRecover(utf8(signingPayloadNoble(e)), e.get('sig')) !== e.get('sender')) return 'bad_signature';
  // 4
  if (topic === null) {
    // unicast carrier of `receiver`
    if (e.has('topic')) return 'wrong_topic';
    if (e.get('recipient') !== receiver) return 'wrong_recipient';
  } else {
    // broadcast room of `topic`
    if (e.has('recipient')) return 'wrong_recipient';
    if (e.get('topic') !== topic) return 'wrong_topic';
  }
  // 5
  const ts = e.get('ts');
  if (ts < nowB - MAX_AGE_MS || ts > nowB + MAX_FUTURE_MS) return 'expired';
  return 'accepted';
}
