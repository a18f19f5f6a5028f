// A small Megolm (m.megolm.v1.aes-sha2) written from the Megolm specification on node:crypto
// only (HMAC-SHA-256, HKDF-SHA-256, AES-256-CBC, Ed25519). Used by the megolm_decrypt vectors
// as a third implementation next to vodozemac and libolm: to take messages apart (where the
// MAC, the body and the signature are), to advance a ratchet and export a session at a later
// index, and to re-decrypt every case. It is not used to make the expected plaintexts.
//
// Formats (all integers big-endian unless said otherwise):
//   session sharing key ("initial", m.room_key): 0x02 | index u32 | R0..R3 (4 x 32) |
//     Ed25519 public key (32) | Ed25519 signature (64) over everything before it  (229 bytes)
//   session export key (key export file):         0x01 | index u32 | R0..R3 | public key (165 bytes)
//   message: 0x03 | 0x08 varint(index) | 0x12 varint(len) ciphertext | MAC (8 bytes,
//     HMAC-SHA-256 of everything before it, truncated) | Ed25519 signature (64) of everything
//     before it (the MAC included)
//   keys for index i: HKDF-SHA-256(salt empty, ikm R(i), info "MEGOLM_KEYS") -> 80 bytes =
//     AES-256 key | HMAC key | CBC IV; the body is AES-256-CBC with PKCS#7 padding.
import crypto from 'node:crypto';

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

export class MegolmError extends Error {
  constructor(stage, msg) {
    super(`${stage}: ${msg}`);
    this.stage = stage; // 'key' (the session key is refused) or 'message'
  }
}

// Standard base64 as vodozemac reads it (the base64 crate, standard alphabet): non-zero
// trailing bits in the last character are refused everywhere; session keys must be unpadded,
// messages may be unpadded or correctly padded ("=" up to a multiple of 4 characters).
const B64 = /^[A-Za-z0-9+/]*$/;
export function b64decode(s, stage = 'message') {
  if (typeof s !== 'string') throw new MegolmError(stage, 'not a string');
  let t = s;
  if (stage === 'message' && t.length % 4 === 0 && t.endsWith('=')) t = t.replace(/={1,2}$/, '');
  if (!B64.test(t) || t.length % 4 === 1) throw new MegolmError(stage, 'not base64');
  const b = Buffer.from(t, 'base64');
  if (b64encode(b) !== t) throw new MegolmError(stage, 'non-zero trailing bits');
  return new Uint8Array(b);
}
export const b64encode = (bytes) => Buffer.from(bytes).toString('base64').replace(/=+$/, '');

const hmac = (key, data) => new Uint8Array(crypto.createHmac('sha256', key).update(data).digest());

export function edVerify(pub, msg, sig) {
  const key = crypto.createPublicKey({ key: Buffer.concat([SPKI_ED25519, Buffer.from(pub)]), format: 'der', type: 'spki' });
  return crypto.verify(null, msg, key, sig);
}
export function edPublic(seed) {
  return new Uint8Array(crypto.createPublicKey(edPrivate(seed)).export({ format: 'der', type: 'spki' }).subarray(12));
}
function edPrivate(seed) {
  return crypto.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, Buffer.from(seed)]), format: 'der', type: 'pkcs8' });
}
export const edSign = (seed, msg) => new Uint8Array(crypto.sign(null, msg, edPrivate(seed)));

const u32 = (b, o) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
const be32 = (n) => Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
const cat = (...p) => new Uint8Array(Buffer.concat(p.map((x) => Buffer.from(x))));

// A parsed session: { index, ratchet: [R0, R1, R2, R3], pub, format: 'export' | 'sharing' }.
export function parseSessionKey(b64) {
  const b = b64decode(b64, 'key');
  let format;
  if (b.length === 229 && b[0] === 2) format = 'sharing';
  else if (b.length === 165 && b[0] === 1) format = 'export';
  else throw new MegolmError('key', `bad session key (version ${b[0]}, ${b.length} bytes)`);
  const pub = b.slice(133, 165);
  if (format === 'sharing' && !edVerify(pub, b.slice(0, 165), b.slice(165, 229))) throw new MegolmError('key', 'bad session key signature');
  const ratchet = [0, 1, 2, 3].map((j) => b.slice(5 + 32 * j, 37 + 32 * j));
  return { index: u32(b, 1), ratchet, pub, format };
}

// The session id (= the Ed25519 public key, unpadded base64) of a session key, or null when
// the key is too short to hold one. Does not check anything else.
export function sessionIdOf(b64) {
  try {
    const b = Buffer.from(b64, 'base64');
    return b.length >= 165 ? b64encode(b.subarray(133, 165)) : null;
  } catch {
    return null;
  }
}

// Megolm ratchet advance by one: R(i) -> R(i+1). Part h is the highest part whose counter byte
// wraps; parts h..3 are rehashed from the old part h, R(i+1)_j = HMAC(R(i)_h, j).
function advanceOne(ratchet, i) {
  const next = i + 1;
  const h = next % 2 ** 24 === 0 ? 0 : next % 2 ** 16 === 0 ? 1 : next % 2 ** 8 === 0 ? 2 : 3;
  const from = ratchet[h];
  const r = ratchet.slice();
  for (let j = h; j < 4; j++) r[j] = hmac(from, Uint8Array.of(j));
  return r;
}
export function advance(session, to) {
  if (to < session.index) throw new MegolmError('message', `index ${to} is below the first known index ${session.index}`);
  let r = session.ratchet;
  for (let i = session.index; i < to; i++) r = advanceOne(r, i);
  return { ...session, index: to, ratchet: r };
}

export function exportKey(session, index) {
  const s = advance(session, index);
  return b64encode(cat([1], be32(s.index), ...s.ratchet, s.pub));
}
export function sharingKey(session, edSeed) {
  const body = cat([2], be32(session.index), ...session.ratchet, session.pub);
  return b64encode(cat(body, edSign(edSeed, body)));
}

function keys(ratchet) {
  const okm = new Uint8Array(crypto.hkdfSync('sha256', cat(...ratchet), new Uint8Array(0), Buffer.from('MEGOLM_KEYS'), 80));
  return { aes: okm.slice(0, 32), mac: okm.slice(32, 64), iv: okm.slice(64, 80) };
}

function varint(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 128;
    out.push(b);
  } while (n > 0);
  return out;
}
function readVarint(b, pos) {
  let v = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= b.length) throw new MegolmError('message', 'truncated varint');
    const c = b[pos++];
    v += (c & 127) * 2 ** shift;
    if (!(c & 128)) return [v, pos];
  }
  throw new MegolmError('message', 'varint too long');
}

// Splits a message (bytes) into its parts, with the byte offsets of each (for making
// corrupted copies). Refuses what does not have the shape of a version-3 message.
export function splitMessage(b) {
  if (b.length < 1 + 8 + 64) throw new MegolmError('message', `message too short (${b.length} bytes)`);
  const macAt = b.length - 72;
  const sigAt = b.length - 64;
  const head = b.subarray(0, macAt);
  let index = null;
  let body = null;
  let bodyAt = null;
  let pos = 1;
  while (pos < head.length) {
    let tag;
    [tag, pos] = readVarint(head, pos);
    if (tag === 0x08) [index, pos] = readVarint(head, pos);
    else if (tag === 0x12) {
      let len;
      [len, pos] = readVarint(head, pos);
      if (pos + len > head.length) throw new MegolmError('message', 'truncated ciphertext field');
      bodyAt = pos;
      body = head.subarray(pos, pos + len);
      pos += len;
    } else throw new MegolmError('message', `unexpected field tag ${tag}`);
  }
  if (index === null || body === null) throw new MegolmError('message', 'missing index or ciphertext');
  return { version: b[0], index, body, bodyAt, macAt, sigAt, mac: b.subarray(macAt, sigAt), sig: b.subarray(sigAt) };
}

// Decrypts a message (unpadded base64) with a parsed session: { plaintext (bytes), index }.
export function decrypt(session, ciphertextB64) {
  const b = b64decode(ciphertextB64, 'message');
  const m = splitMessage(b);
  if (m.version !== 3) throw new MegolmError('message', `bad message version ${m.version}`);
  if (!edVerify(session.pub, b.subarray(0, m.sigAt), m.sig)) throw new MegolmError('message', 'bad signature');
  const s = advance(session, m.index);
  const k = keys(s.ratchet);
  const mac = hmac(k.mac, b.subarray(0, m.macAt)).subarray(0, 8);
  if (!crypto.timingSafeEqual(mac, m.mac)) throw new MegolmError('message', 'bad MAC');
  let pt;
  try {
    const d = crypto.createDecipheriv('aes-256-cbc', k.aes, k.iv);
    pt = Buffer.concat([d.update(m.body), d.final()]);
  } catch {
    throw new MegolmError('message', 'bad padding');
  }
  return { plaintext: new Uint8Array(pt), index: m.index };
}

// Parses a session key and decrypts: { ok: true, plaintext, index } or { ok: false, stage, error }.
export function refDecrypt(sessionKeyB64, ciphertextB64) {
  let session;
  try {
    session = parseSessionKey(sessionKeyB64);
  } catch (e) {
    if (!(e instanceof MegolmError)) throw e;
    return { ok: false, stage: 'key', error: e.message };
  }
  try {
    return { ok: true, ...decrypt(session, ciphertextB64) };
  } catch (e) {
    if (!(e instanceof MegolmError)) throw e;
    return { ok: false, stage: 'message', error: e.message };
  }
}

// Encrypts with an outbound session { index, ratchet, pub } and its Ed25519 seed; returns the
// message (unpadded base64) and the session advanced by one. Optional `version` to make a
// message with a wrong version byte but a valid MAC and signature.
export function encrypt(session, edSeed, plaintext, { version = 3 } = {}) {
  const k = keys(session.ratchet);
  const c = crypto.createCipheriv('aes-256-cbc', k.aes, k.iv);
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  const head = cat([version, 0x08, ...varint(session.index), 0x12, ...varint(body.length)], body);
  const withMac = cat(head, hmac(k.mac, head).subarray(0, 8));
  const msg = cat(withMac, edSign(edSeed, withMac));
  return { ciphertext: b64encode(msg), next: advance(session, session.index + 1) };
}
