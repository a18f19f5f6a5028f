// Shared helpers for the conformance-vector generators: deterministic "randomness",
// hex helpers, secp256k1 constants, a deterministic pretty-printer for vector files and
// small assertion helpers. No Math.random, no clock: every output is a pure function of
// the code.
import { keccak_256 } from '@noble/hashes/sha3.js';

export const SECP_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
export const SECP_P = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn;
export const HALF_N = SECP_N >> 1n;

const enc = new TextEncoder();
export const utf8 = (s) => enc.encode(s);
export const utf8Decode = (b) => new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b);

export function hex(bytes) {
  return '0x' + Buffer.from(bytes).toString('hex');
}
export function unhex(h) {
  if (!/^0x([0-9a-f]{2})*$/.test(h)) throw new Error(`bad hex ${h}`);
  return new Uint8Array(Buffer.from(h.slice(2), 'hex'));
}
export function concat(...parts) {
  return new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));
}
export function bigToBytes32(x) {
  if (x < 0n || x >= 1n << 256n) throw new Error('out of range');
  return unhex('0x' + x.toString(16).padStart(64, '0'));
}
export function bytesToBig(b) {
  return b.length ? BigInt(hex(b)) : 0n;
}

// Deterministic pseudo-random bytes: keccak256("mrt-vectors:" + label + ":" + counter),
// extended by chaining for longer outputs.
export function seedBytes(label, counter, length = 32) {
  const out = [];
  let total = 0;
  for (let block = 0; total < length; block++) {
    const h = keccak_256(utf8(`mrt-vectors:${label}:${counter}:${block}`));
    out.push(h);
    total += h.length;
  }
  return concat(...out).slice(0, length);
}

// Deterministic valid secp256k1 private key (1 <= k < n).
export function seedKey(label, counter) {
  for (let attempt = 0; ; attempt++) {
    const b = seedBytes(`${label}/key/${attempt}`, counter);
    const k = bytesToBig(b);
    if (k > 0n && k < SECP_N) return b;
  }
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`generation aborted: ${msg}`);
}
export function assertEq(a, b, msg) {
  if (a !== b) throw new Error(`generation aborted: ${msg}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
}

// A piece of JSON text embedded verbatim into a vector file (used for canonical_json inputs
// that must keep a particular spelling: escapes, key order, whitespace, raw UTF-8).
export class RawJSON {
  constructor(text) {
    this.text = text;
  }
}

function escapeString(s, asciiOnly) {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (cp < 0x20 || cp === 0x7f) out += '\\u' + cp.toString(16).padStart(4, '0');
    else if (cp >= 0xd800 && cp <= 0xdfff) throw new Error('lone surrogate in output string');
    else if (asciiOnly && cp > 0x7e) {
      if (cp > 0xffff) {
        const v = cp - 0x10000;
        out += '\\u' + (0xd800 + (v >> 10)).toString(16).padStart(4, '0');
        out += '\\u' + (0xdc00 + (v & 0x3ff)).toString(16).padStart(4, '0');
      } else {
        out += '\\u' + cp.toString(16).padStart(4, '0');
      }
    } else out += ch;
  }
  return out + '"';
}

const MAX_SAFE = 9007199254740991n;

// Deterministic pretty printer (indent 2, insertion order of keys kept). Refuses anything a
// strict canonical-JSON-style reader would refuse: floats, unsafe integers, undefined.
// asciiOnly: non-ASCII characters (and DEL) are written as \u escapes, so the files are
// 7-bit clean and NFC/NFD differences stay visible.
export function serialize(value, { asciiOnly = true } = {}) {
  const lines = [];
  function ser(v, indent) {
    const pad = '  '.repeat(indent + 1);
    const padEnd = '  '.repeat(indent);
    if (v === null) return 'null';
    if (v === true) return 'true';
    if (v === false) return 'false';
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || Object.is(v, -0)) throw new Error(`non-integer or unsafe number ${v}`);
      return String(v);
    }
    if (typeof v === 'bigint') {
      if (v > MAX_SAFE || v < -MAX_SAFE) throw new Error(`unsafe integer ${v}`);
      return v.toString();
    }
    if (typeof v === 'string') return escapeString(v, asciiOnly);
    if (v instanceof RawJSON) return v.text.replace(/\n/g, '\n' + padEnd); // JSON strings hold no raw newline
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      return '[\n' + v.map((x) => pad + ser(x, indent + 1)).join(',\n') + '\n' + padEnd + ']';
    }
    if (typeof v === 'object') {
      const keys = Object.keys(v);
      for (const k of keys) if (v[k] === undefined) throw new Error(`undefined value for key ${k}`);
      if (keys.length === 0) return '{}';
      return (
        '{\n' +
        keys.map((k) => pad + escapeString(k, asciiOnly) + ': ' + ser(v[k], indent + 1)).join(',\n') +
        '\n' +
        padEnd +
        '}'
      );
    }
    throw new Error(`cannot serialize ${typeof v}`);
  }
  lines.push(ser(value, 0));
  return lines.join('') + '\n';
}
