// An independent Raiden transport peer in JavaScript, written from PROTOCOL.md alone (not from
// mrt's code): ethers signs, @noble recovers, matrix-sdk-crypto-wasm (vodozemac) does Olm and
// Megolm, and plain fetch talks to any Matrix homeserver.
//
//   const peer = new RaidenJsPeer({ homeserver, serverName, wallet });
//   peer.on('message', ({ id, from, body, ts, carrier }) => ...);
//   await peer.start();
//   const id = await peer.send('0x…', 'hello');   // 'delivered' {id, to} once acked
//   await peer.stop();
//
// What it does, by PROTOCOL.md section:
//   §2 login with m.login.password, password = personal_sign(server name); displayname =
//      personal_sign(user id); partners' user ids are validated by recovering their displayname.
//   §3 its device keys carry network.raiden.attestation and are signed again by the device's
//      Ed25519 key (OlmMachine.sign); every keys/query answer is checked (self-signature and
//      attestation) and only attested devices are marked trusted: room keys go only to them
//      (CollectStrategy.onlyTrustedDevices), Olm messages only to them, and payloads from any
//      other device are rejected with unattested_device.
//   §4 envelopes built, signed and validated (rules 1-7, in order, with their reasons) on this
//      module's own canonical JSON writer.
//   §5 DM rooms (the lower address creates with the exact createRoom body and invites; the
//      higher joins invites from the lower address's validated user id; rooms are judged on
//      their complete state and left when wrong), to_device (Olm) until a room is ready,
//      batching {"envelopes": […]} up to 40,000 bytes, acks for every accepted message and every
//      replay of one over the carrier it came on, resends of the identical envelope with backoff
//      until acked or ts + max_age.
//
// Events: 'message' {id, from, body, ts, carrier, room}, 'delivered' {id, to, carrier},
// 'ack' {nonces, from, carrier} (every ack envelope, duplicates too), 'failed' {id, to},
// 'rejected' {reason, from, nonce, carrier, detail}, 'room' {room, partner, state}, 'log' text.
import { randomBytes, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { EventEmitter } from 'node:events';

import {
  CollectStrategy,
  DecryptionSettings,
  DeviceId,
  DeviceLists,
  EncryptionSettings,
  initAsync,
  LocalTrust,
  OlmMachine,
  ProcessedToDeviceEventType,
  RequestType,
  RoomId,
  TrustRequirement,
  UserId,
} from '@matrix-org/matrix-sdk-crypto-wasm';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';

export const EVENT_TYPE = 'network.raiden.envelopes';
export const ATTESTATION = 'network.raiden.attestation';
export const DM_STATE = 'network.raiden.dm';
export const MAX_ENVELOPE_BYTES = 32_768;
export const MAX_PAYLOAD_BYTES = 40_000;
export const MAX_AGE_MS = 3_600_000;
export const FUTURE_SKEW_MS = 120_000;
export const ENCRYPTION_CONTENT = Object.freeze({
  algorithm: 'm.megolm.v1.aes-sha2',
  rotation_period_ms: 604_800_000,
  rotation_period_msgs: 100,
});

// ---------------------------------------------------------------------------------------------
// PROTOCOL.md §1 primitives.

function compareCodePoints(a, b) {
  const x = a[Symbol.iterator]();
  const y = b[Symbol.iterator]();
  for (;;) {
    const p = x.next();
    const q = y.next();
    if (p.done || q.done) return (p.done ? 0 : 1) - (q.done ? 0 : 1);
    const d = p.value.codePointAt(0) - q.value.codePointAt(0);
    if (d) return d;
  }
}

const SHORT_ESCAPES = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function canonicalString(s) {
  if (/[\ud800-\udfff]/u.test(s)) throw new Error('canonical JSON: lone surrogate');
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (SHORT_ESCAPES[ch]) out += SHORT_ESCAPES[ch];
    else if (c < 0x20) out += `\\u00${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

// The Matrix specification's canonical JSON (PROTOCOL.md §1): keys by code point, no
// whitespace, integers only within ±(2^53-1), shortest escapes, everything else raw UTF-8.
export function canonicalJson(value) {
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'string') return canonicalString(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || Object.is(value, -0)) throw new Error(`canonical JSON: not an integer: ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort(compareCodePoints);
    return `{${keys.map((k) => `${canonicalString(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  throw new Error(`canonical JSON: cannot encode ${typeof value}`);
}

const utf8 = (s) => new TextEncoder().encode(s);
const utf8Length = (s) => Buffer.byteLength(s, 'utf8');
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const SECP_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function eip191Hash(data) {
  const bytes = typeof data === 'string' ? utf8(data) : data;
  const prefix = utf8(`\x19Ethereum Signed Message:\n${bytes.length}`);
  const all = new Uint8Array(prefix.length + bytes.length);
  all.set(prefix);
  all.set(bytes, prefix.length);
  return keccak_256(all);
}

export const ADDRESS_RE = /^0x[0-9a-f]{40}$/;
const NONCE_RE = /^[0-9a-f]{32}$/;
const SIG_RE = /^0x[0-9a-f]{130}$/;
const TOPIC_RE = /^[a-z0-9_]{1,200}$/;

// ecrecover of PROTOCOL.md §1: the lowercase address, or null (malformed, v not in {0,1,27,28},
// high-S, no key).
export function ecrecover(data, sig) {
  if (typeof sig !== 'string' || !SIG_RE.test(sig)) return null;
  const r = BigInt(`0x${sig.slice(2, 66)}`);
  const s = BigInt(`0x${sig.slice(66, 130)}`);
  const v = parseInt(sig.slice(130), 16);
  const recovery = v === 0 || v === 1 ? v : v === 27 || v === 28 ? v - 27 : -1;
  if (recovery < 0 || r === 0n || s === 0n || r >= SECP_N || s >= SECP_N || s > SECP_N / 2n) return null;
  try {
    const signature = new secp256k1.Signature(r, s, recovery);
    const point = signature.recoverPublicKey(eip191Hash(data));
    return `0x${hex(keccak_256(point.toBytes(false).slice(1)).slice(12))}`;
  } catch {
    return null;
  }
}

// §2: the address a user id belongs to, when its displayname proves it; null otherwise.
export function localpartAddress(userId) {
  const m = /^@(0x[0-9a-f]{40}):(.+)$/.exec(userId ?? '');
  return m ? m[1] : null;
}

// Ed25519 verification with node's OpenSSL (Matrix unpadded base64 keys and signatures).
function ed25519Verify(publicKeyB64, message, signatureB64) {
  try {
    const raw = Buffer.from(publicKeyB64, 'base64');
    const sig = Buffer.from(signatureB64, 'base64');
    if (raw.length !== 32 || sig.length !== 64) return false;
    const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
    return nodeVerify(null, Buffer.from(message, 'utf8'), key, sig);
  } catch {
    return false;
  }
}

// §3: {address, curve25519, ed25519} when the device keys are attested for the address of
// their user id, else {problem}.
export function checkDeviceKeys(dk, { now = Date.now() } = {}) {
  if (!dk || typeof dk !== 'object') return { problem: 'not_an_object' };
  const { user_id: userId, device_id: deviceId, keys } = dk;
  if (typeof userId !== 'string' || typeof deviceId !== 'string' || !keys || typeof keys !== 'object') {
    return { problem: 'malformed_device_keys' };
  }
  const ed25519 = keys[`ed25519:${deviceId}`];
  const curve25519 = keys[`curve25519:${deviceId}`];
  if (typeof ed25519 !== 'string' || typeof curve25519 !== 'string') return { problem: 'missing_keys' };
  const selfSig = dk.signatures?.[userId]?.[`ed25519:${deviceId}`];
  if (typeof selfSig !== 'string') return { problem: 'missing_self_signature' };
  const { signatures, unsigned, ...signed } = dk;
  let signedText;
  try {
    signedText = canonicalJson(signed);
  } catch (e) {
    return { problem: `not_canonical: ${e.message}` };
  }
  if (!ed25519Verify(ed25519, signedText, selfSig)) return { problem: 'bad_self_signature' };
  const att = dk[ATTESTATION];
  if (!att || typeof att !== 'object' || Array.isArray(att)) return { problem: 'missing_attestation' };
  const fields = Object.keys(att).sort();
  if (fields.join(',') !== 'address,issued_at,sig') return { problem: `attestation_fields: ${fields}` };
  const { address, issued_at: issuedAt, sig } = att;
  if (typeof address !== 'string' || !ADDRESS_RE.test(address)) return { problem: 'attestation_address' };
  if (!Number.isSafeInteger(issuedAt) || issuedAt < 0 || issuedAt > now + FUTURE_SKEW_MS) return { problem: 'attestation_issued_at' };
  if (localpartAddress(userId) !== address) return { problem: 'attestation_address_not_user' };
  const payload = canonicalJson({ address, device_id: deviceId, issued_at: issuedAt, keys, user_id: userId });
  if (ecrecover(payload, sig) !== address) return { problem: 'bad_attestation_signature' };
  return { address, curve25519, ed25519, userId, deviceId };
}

// ---------------------------------------------------------------------------------------------
// §4 envelopes.

const MESSAGE_FIELDS = new Set(['v', 'kind', 'sender', 'recipient', 'topic', 'nonce', 'ts', 'body', 'sig']);
const ACK_FIELDS = new Set(['v', 'kind', 'sender', 'recipient', 'topic', 'nonce', 'ts', 'acks', 'sig']);

function schemaProblem(e) {
  if (!e || typeof e !== 'object' || Array.isArray(e)) return 'not an object';
  if (e.v !== 1) return 'v';
  if (e.kind !== 'message' && e.kind !== 'ack') return 'kind';
  const allowed = e.kind === 'message' ? MESSAGE_FIELDS : ACK_FIELDS;
  for (const k of Object.keys(e)) if (!allowed.has(k)) return `field ${k}`;
  if (typeof e.sender !== 'string' || !ADDRESS_RE.test(e.sender)) return 'sender';
  if (('recipient' in e) === ('topic' in e)) return 'recipient/topic';
  if ('recipient' in e && (typeof e.recipient !== 'string' || !ADDRESS_RE.test(e.recipient))) return 'recipient';
  if ('topic' in e && (typeof e.topic !== 'string' || !TOPIC_RE.test(e.topic))) return 'topic';
  if (typeof e.nonce !== 'string' || !NONCE_RE.test(e.nonce)) return 'nonce';
  if (!Number.isSafeInteger(e.ts) || e.ts < 0) return 'ts';
  if (e.kind === 'message' && typeof e.body !== 'string') return 'body';
  if (e.kind === 'ack') {
    if (!Array.isArray(e.acks) || e.acks.length < 1 || e.acks.length > 256) return 'acks';
    if (!e.acks.every((n) => typeof n === 'string' && NONCE_RE.test(n))) return 'acks nonce';
    if (new Set(e.acks).size !== e.acks.length) return 'acks twice';
  }
  if (typeof e.sig !== 'string' || !SIG_RE.test(e.sig)) return 'sig';
  return null;
}

// Rules 1-5 of §4 for a unicast carrier (6 and 7 need the receiver's state). Returns
// {reason, detail} or null when these rules accept.
export function checkEnvelope(e, { receiver, now = Date.now(), maxAgeMs = MAX_AGE_MS, maxBytes = MAX_ENVELOPE_BYTES }) {
  const problem = schemaProblem(e);
  if (problem) return { reason: 'malformed', detail: problem };
  let text;
  try {
    text = canonicalJson(e);
  } catch (err) {
    return { reason: 'malformed', detail: err.message };
  }
  if (utf8Length(text) > maxBytes) return { reason: 'too_large' };
  const { sig, ...unsigned } = e;
  if (ecrecover(canonicalJson(unsigned), sig) !== e.sender) return { reason: 'bad_signature' };
  if ('topic' in e) return { reason: 'wrong_topic' };
  if (e.recipient !== receiver) return { reason: 'wrong_recipient' };
  if (e.ts < now - maxAgeMs || e.ts > now + FUTURE_SKEW_MS) return { reason: 'expired' };
  return null;
}

export async function signEnvelope(wallet, fields) {
  const envelope = { v: 1, ...fields };
  envelope.sig = await wallet.signMessage(canonicalJson(envelope));
  return envelope;
}

// ---------------------------------------------------------------------------------------------

class MatrixError extends Error {
  constructor(method, path, status, body) {
    super(`${method} ${path.split('?')[0]}: ${status} ${body?.errcode ?? ''} ${body?.error ?? ''}`);
    this.status = status;
    this.errcode = body?.errcode;
    this.body = body;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const enc = encodeURIComponent;
let wasmReady;

// A mutex: one crypto operation at a time (outgoing requests must not be sent twice).
class Lock {
  #tail = Promise.resolve();
  run(fn) {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => {});
    return result;
  }
}

export class RaidenJsPeer extends EventEmitter {
  constructor({ homeserver, serverName, wallet, carrier = 'room', maxAgeMs = MAX_AGE_MS,
                resendMs = 1000, maxResendMs = 8000, inviteAgainMs = 60_000, name, attest = true } = {}) {
    super();
    this.homeserver = homeserver.replace(/\/$/, '');
    this.serverName = serverName;
    this.wallet = wallet;
    this.address = wallet.address.toLowerCase();
    this.userId = `@${this.address}:${serverName}`;
    this.carrier = carrier;
    this.maxAgeMs = maxAgeMs;
    this.resendMs = resendMs;
    this.maxResendMs = maxResendMs;
    this.inviteAgainMs = inviteAgainMs;
    this.name = name ?? this.address.slice(0, 8);
    this.attestDevice = attest; // false only for tests: a device without network.raiden.attestation
    this.lock = new Lock();
    this.outbox = new Map(); // nonce -> {envelope, to, attempts, next, delivered}
    this.seen = new Map(); // `${sender}|${nonce}` -> expiry (ms)
    this.pendingAcks = new Map(); // `${partner}|${carrier}` -> {partner, carrier, room, nonces: Set}
    this.inFlight = new Set(); // partners with a send in flight
    this.attested = new Map(); // curve25519 -> {address, userId, deviceId, ed25519}
    this.attestedDevices = new Map(); // userId -> Map(deviceId -> attested info)
    this.validatedUsers = new Map(); // userId -> true | false (displayname proof)
    this.rooms = new Map(); // roomId -> room record
    this.creating = new Map(); // partner -> promise (room creation in flight)
    this.undecrypted = []; // room events waiting for their room key
    this.stats = {
      received: { room: 0, to_device: 0 },
      acksReceived: { room: 0, to_device: 0 },
      sentBatches: { room: 0, to_device: 0 },
      megolmDecrypted: 0,
      olmDecrypted: 0,
      rejected: {},
    };
    this.txnCounter = 0;
    this.stopped = false;
  }

  log(...what) {
    this.emit('log', `[${this.name}] ${what.join(' ')}`);
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  // One client-server API call; 429 waits retry_after_ms, network errors retry with backoff (the
  // same path and body, so a transaction id is reused).
  async api(method, path, body, { auth = true, retries = 5, signal } = {}) {
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await fetch(`${this.homeserver}/_matrix/client/v3${path}`, {
          method,
          headers: {
            ...(auth ? { Authorization: `Bearer ${this.accessToken}` } : {}),
            ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          },
          body: body !== undefined ? JSON.stringify(body) : undefined,
          signal: signal ?? this.abort?.signal,
        });
      } catch (e) {
        if (this.stopped || attempt >= retries) throw e;
        await sleep(Math.min(5000, 200 * 2 ** attempt));
        continue;
      }
      const text = await response.text();
      let json;
      try {
        json = text ? JSON.parse(text) : {};
      } catch {
        json = { errcode: 'M_NOT_JSON', error: text.slice(0, 200) };
      }
      if (response.ok) return json;
      if (response.status === 429 && attempt < retries) {
        await sleep(Math.max(50, json.retry_after_ms ?? 1000));
        continue;
      }
      if (response.status >= 500 && attempt < retries && !this.stopped) {
        await sleep(Math.min(5000, 200 * 2 ** attempt));
        continue;
      }
      throw new MatrixError(method, path, response.status, json);
    }
  }

  txnId() {
    return `jsp${Date.now().toString(36)}${(this.txnCounter++).toString(36)}${hex(randomBytes(4))}`;
  }

  // ---- start / stop ---------------------------------------------------------------------------

  async start() {
    wasmReady ??= initAsync();
    await wasmReady;
    this.abort = new AbortController();
    // §2: the password is personal_sign over the server name.
    const login = await this.api('POST', '/login', {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: this.address },
      password: await this.wallet.signMessage(this.serverName),
      initial_device_display_name: 'raiden js peer',
    }, { auth: false });
    if (login.user_id !== this.userId) throw new Error(`login answered user id ${login.user_id}, expected ${this.userId}`);
    this.accessToken = login.access_token;
    this.deviceId = login.device_id;
    // §2: displayname = personal_sign(user id).
    await this.api('PUT', `/profile/${enc(this.userId)}/displayname`, {
      displayname: await this.wallet.signMessage(this.userId),
    });
    this.validatedUsers.set(this.userId, true);
    this.machine = await OlmMachine.initialize(new UserId(this.userId), new DeviceId(this.deviceId));
    await this.lock.run(() => this.processOutgoing()); // keys/upload with the attestation
    this.log('started', this.userId, this.deviceId);
    this.syncLoop = this.runSync();
    this.ticker = setInterval(() => this.tick(), 100);
    return { address: this.address, userId: this.userId, deviceId: this.deviceId };
  }

  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.ticker);
    this.abort.abort();
    await this.syncLoop?.catch(() => {});
    await this.lock.run(() => {}).catch(() => {});
    this.machine?.close();
  }

  // ---- crypto plumbing ------------------------------------------------------------------------

  // §3: attestation added to our device_keys, then the whole object signed again by the device.
  async attest(deviceKeys) {
    const { signatures, unsigned, ...keys } = deviceKeys;
    const issuedAt = Date.now();
    const payload = canonicalJson({ address: this.address, device_id: keys.device_id, issued_at: issuedAt, keys: keys.keys, user_id: keys.user_id });
    keys[ATTESTATION] = { address: this.address, issued_at: issuedAt, sig: await this.wallet.signMessage(payload) };
    const selfSignature = await this.machine.sign(canonicalJson(keys));
    return { ...keys, signatures: JSON.parse(selfSignature.asJSON()) };
  }

  // Sends one outgoing request of the machine; answers with the response body. Called in the lock.
  async route(r) {
    const body = r.body ? JSON.parse(r.body) : {};
    switch (r.type) {
      case RequestType.KeysUpload:
        if (body.device_keys && this.attestDevice) body.device_keys = await this.attest(body.device_keys);
        return this.api('POST', '/keys/upload', body);
      case RequestType.KeysQuery: {
        const response = await this.api('POST', '/keys/query', body);
        this.checkQueryResponse(response);
        return response;
      }
      case RequestType.KeysClaim:
        return this.api('POST', '/keys/claim', body);
      case RequestType.ToDevice:
        return this.api('PUT', `/sendToDevice/${enc(r.event_type)}/${enc(r.txn_id)}`, body);
      case RequestType.RoomMessage:
        return this.api('PUT', `/rooms/${enc(r.room_id)}/send/${enc(r.event_type)}/${enc(r.txn_id)}`, body);
      default:
        this.log('unexpected outgoing request type', r.type);
        return {};
    }
  }

  async processOutgoing() {
    for (let round = 0; round < 20; round++) {
      const requests = await this.machine.outgoingRequests();
      if (requests.length === 0) break;
      for (const r of requests) {
        const response = await this.route(r);
        await this.machine.markRequestAsSent(r.id, r.type, JSON.stringify(response));
      }
    }
    await this.applyTrust();
  }

  // Every device in a keys/query answer is judged by PROTOCOL.md §3.
  checkQueryResponse(response) {
    this.trustChanges ??= [];
    for (const [userId, devices] of Object.entries(response.device_keys ?? {})) {
      const known = new Map();
      for (const [deviceId, dk] of Object.entries(devices ?? {})) {
        if (userId === this.userId && deviceId === this.deviceId) continue;
        const verdict = dk?.user_id === userId && dk?.device_id === deviceId ? checkDeviceKeys(dk) : { problem: 'ids do not match' };
        if (verdict.problem) {
          this.log('device', userId, deviceId, 'not attested:', verdict.problem);
          this.trustChanges.push({ userId, deviceId, trust: LocalTrust.Unset });
          for (const [curve, info] of this.attested) if (info.userId === userId && info.deviceId === deviceId) this.attested.delete(curve);
          continue;
        }
        known.set(deviceId, verdict);
        this.attested.set(verdict.curve25519, verdict);
        this.trustChanges.push({ userId, deviceId, trust: LocalTrust.Verified });
      }
      this.attestedDevices.set(userId, known);
      for (const [curve, info] of this.attested) if (info.userId === userId && !known.has(info.deviceId)) this.attested.delete(curve);
    }
  }

  async applyTrust() {
    const changes = this.trustChanges ?? [];
    this.trustChanges = [];
    for (const { userId, deviceId, trust } of changes) {
      const device = await this.machine.getDevice(new UserId(userId), new DeviceId(deviceId));
      if (device && device.localTrustState !== trust) await device.setLocalTrust(trust);
    }
  }

  // Olm sessions and device keys for a partner, ready for encryption. Called in the lock.
  async prepare(partnerUserId) {
    const tracked = [...(await this.machine.trackedUsers())].map(String);
    if (!tracked.includes(partnerUserId)) await this.machine.updateTrackedUsers([new UserId(partnerUserId)]);
    await this.processOutgoing();
    const claim = await this.machine.getMissingSessions([new UserId(partnerUserId)]);
    if (claim) await this.machine.markRequestAsSent(claim.id, claim.type, JSON.stringify(await this.route(claim)));
  }

  // ---- sync -----------------------------------------------------------------------------------

  async runSync() {
    let since;
    const filter = JSON.stringify({ room: { timeline: { limit: 100 } } });
    while (!this.stopped) {
      try {
        const query = `filter=${enc(filter)}&timeout=${since ? 30000 : 0}${since ? `&since=${enc(since)}` : ''}`;
        const response = await this.api('GET', `/sync?${query}`, undefined, { retries: 0 });
        await this.handleSync(response);
        since = response.next_batch;
      } catch (e) {
        if (this.stopped) return;
        this.log('sync failed:', e.message);
        await sleep(500);
      }
    }
  }

  async handleSync(response) {
    const toDevice = response.to_device?.events ?? [];
    const changed = response.device_lists?.changed ?? [];
    const left = response.device_lists?.left ?? [];
    const counts = new Map(Object.entries(response.device_one_time_keys_count ?? {}));
    const fallback = response.device_unused_fallback_key_types;
    const processed = await this.lock.run(async () => {
      const out = await this.machine.receiveSyncChanges(
        JSON.stringify(toDevice),
        new DeviceLists(changed.map((u) => new UserId(u)), left.map((u) => new UserId(u))),
        counts,
        fallback ? new Set(fallback) : undefined,
      );
      await this.processOutgoing();
      return out;
    });
    for (const p of processed) {
      if (p.type === ProcessedToDeviceEventType.UnableToDecrypt) {
        this.log('to-device not decrypted:', p.utdInfo?.reason);
        continue;
      }
      if (p.type !== ProcessedToDeviceEventType.Decrypted) {
        const raw = JSON.parse(p.rawEvent);
        if (raw.type === EVENT_TYPE) this.reject('unattested_device', raw.sender, null, 'to_device', 'plaintext to-device payload');
        continue;
      }
      this.stats.olmDecrypted++;
      const event = JSON.parse(p.rawEvent);
      // For tests: what the Olm plaintext carried (PROTOCOL §5 lists its fields).
      const enclosed = event['org.matrix.msc4147.device_keys'] ?? event.sender_device_keys;
      this.emit('olm-plaintext', {
        sender: event.sender,
        type: event.type,
        fields: Object.keys(event).sort(),
        senderCurve25519: p.encryptionInfo.senderCurve25519Key,
        enclosed: enclosed ? checkDeviceKeys(enclosed) : null,
      });
      if (event.type !== EVENT_TYPE) continue;
      await this.onOlmPayload(event, p.encryptionInfo);
    }
    for (const [roomId, room] of Object.entries(response.rooms?.invite ?? {})) {
      this.onInvite(roomId, room.invite_state?.events ?? []).catch((e) => this.log('invite', roomId, e.message));
    }
    for (const [roomId, room] of Object.entries(response.rooms?.join ?? {})) {
      await this.onJoinedRoom(roomId, room);
    }
    for (const roomId of Object.keys(response.rooms?.leave ?? {})) {
      const record = this.rooms.get(roomId);
      if (record) {
        record.meJoined = false;
        record.valid = false;
        this.emit('room', { room: roomId, partner: record.partner, state: 'left' });
      }
    }
    await this.retryUndecrypted();
  }

  // An Olm-decrypted network.raiden.envelopes event (to_device carrier).
  async onOlmPayload(event, info) {
    let device = this.attested.get(info.senderCurve25519Key);
    if (!device) {
      // MSC4147: the sender's device keys enclosed in the Olm plaintext vouch for the first message.
      const enclosed = event.sender_device_keys ?? event['org.matrix.msc4147.device_keys'];
      const verdict = enclosed ? checkDeviceKeys(enclosed) : { problem: 'unknown device' };
      if (!verdict.problem && verdict.curve25519 === info.senderCurve25519Key && enclosed.user_id === event.sender) {
        device = verdict;
        this.attested.set(verdict.curve25519, verdict);
        this.log('device', verdict.userId, verdict.deviceId, 'attested by the device keys in its Olm plaintext');
      } else if (event.sender) {
        this.log('Olm payload from an unknown device of', event.sender, verdict.problem ?? 'keys do not match the sender');
        // Unknown device: query its keys; the sender's resend covers this message.
        await this.lock.run(async () => {
          await this.machine.updateTrackedUsers([new UserId(event.sender)]);
          await this.processOutgoing();
        });
      }
    }
    await this.onPayload(event.content, { carrier: 'to_device', device, matrixSender: event.sender });
  }

  // ---- rooms (§5) ----------------------------------------------------------------------------

  isLower(partner) {
    return this.address < partner;
  }

  partnerUserId(partner) {
    return `@${partner}:${this.serverName}`;
  }

  // §2: a user id belongs to its localpart's address when its displayname recovers to it.
  async validateUser(userId, { fresh = false } = {}) {
    if (!fresh && this.validatedUsers.get(userId) === true) return true;
    const address = localpartAddress(userId);
    if (!address || !userId.endsWith(`:${this.serverName}`)) return false;
    let displayname;
    try {
      ({ displayname } = await this.api('GET', `/profile/${enc(userId)}/displayname`));
    } catch {
      return false;
    }
    const ok = typeof displayname === 'string' && ecrecover(userId, displayname) === address;
    if (ok) this.validatedUsers.set(userId, true);
    return ok;
  }

  // The valid room with the newest m.room.create in which both are joined.
  readyRoom(partner) {
    let best = null;
    for (const room of this.rooms.values()) {
      if (room.partner !== partner || !room.valid || !room.meJoined || !room.partnerJoined) continue;
      if (!best || room.createTs > best.createTs) best = room;
    }
    return best;
  }

  hasLiveRoom(partner) {
    for (const room of this.rooms.values()) if (room.partner === partner && room.valid && room.meJoined) return room;
    return null;
  }

  // The lower address creates the DM room (once) when it has a reason to talk to the partner.
  ensureRoom(partner) {
    if (this.carrier !== 'room' || !this.isLower(partner) || this.hasLiveRoom(partner) || this.creating.has(partner)) return;
    const job = this.createRoom(partner)
      .catch((e) => this.log('create room failed:', e.message))
      .finally(() => setTimeout(() => this.creating.delete(partner), 2000));
    this.creating.set(partner, job);
  }

  async createRoom(partner) {
    const partnerUserId = this.partnerUserId(partner);
    if (!(await this.validateUser(partnerUserId, { fresh: true }))) {
      this.log('partner', partnerUserId, 'not validated yet (displayname)');
      return;
    }
    const [lower, higher] = [this.address, partner];
    const { room_id: roomId } = await this.api('POST', '/createRoom', {
      preset: 'private_chat',
      is_direct: true,
      initial_state: [
        { type: 'm.room.encryption', state_key: '', content: { ...ENCRYPTION_CONTENT } },
        { type: DM_STATE, state_key: '', content: { addresses: [lower, higher] } },
      ],
    });
    this.log('created room', roomId, 'for', partner);
    const record = this.roomRecord(roomId, partner);
    record.meJoined = true;
    await this.api('POST', `/rooms/${enc(roomId)}/invite`, { user_id: partnerUserId });
    record.invitedAt = Date.now();
    await this.judgeRoom(roomId);
  }

  roomRecord(roomId, partner) {
    let record = this.rooms.get(roomId);
    if (!record) {
      record = { roomId, partner, valid: null, meJoined: false, partnerJoined: false, createTs: 0, judging: null, again: false };
      this.rooms.set(roomId, record);
    }
    return record;
  }

  async onInvite(roomId, strippedState) {
    if (this.rooms.has(roomId) || this.carrier !== 'room') return;
    const invite = strippedState.find((e) => e.type === 'm.room.member' && e.state_key === this.userId && e.content?.membership === 'invite');
    const inviter = invite?.sender;
    const inviterAddress = localpartAddress(inviter);
    // Only from a validated user id of the lower address of the pair.
    if (!inviterAddress || !(inviterAddress < this.address) || !(await this.validateUser(inviter))) {
      this.log('invite to', roomId, 'from', inviter, 'refused');
      this.rooms.set(roomId, { roomId, partner: inviterAddress, valid: false });
      await this.api('POST', `/rooms/${enc(roomId)}/leave`, {}).catch(() => {});
      return;
    }
    const dm = strippedState.find((e) => e.type === DM_STATE && e.state_key === '');
    if (dm && canonicalJson(dm.content?.addresses ?? null) !== canonicalJson([inviterAddress, this.address])) {
      this.log('invite to', roomId, 'refused: network.raiden.dm', JSON.stringify(dm.content));
      this.rooms.set(roomId, { roomId, partner: inviterAddress, valid: false });
      await this.api('POST', `/rooms/${enc(roomId)}/leave`, {}).catch(() => {});
      return;
    }
    const record = this.roomRecord(roomId, inviterAddress);
    try {
      await this.api('POST', `/rooms/${enc(roomId)}/join`, {});
    } catch (e) {
      this.log('join', roomId, 'failed:', e.message);
      record.valid = false;
      this.reject('room_invite_unjoinable', inviterAddress, null, 'room', e.message);
      return;
    }
    record.meJoined = true;
    this.log('joined', roomId, 'from', inviter);
    await this.judgeRoom(roomId);
  }

  async onJoinedRoom(roomId, room) {
    let record = this.rooms.get(roomId);
    const state = [...(room.state?.events ?? []), ...(room.timeline?.events ?? []).filter((e) => e.state_key !== undefined)];
    if (!record) {
      // Test hook: ignoreRoom(roomId, events) true leaves a room alone (a test made it by hand).
      if (this.ignoreRoom?.(roomId, state)) {
        this.rooms.set(roomId, { roomId, partner: null, valid: false, ignored: true });
        return;
      }
      // A room we did not create or join in this session: judged on its full state below.
      const dm = state.find((e) => e.type === DM_STATE);
      const partner = (dm?.content?.addresses ?? []).find((a) => a !== this.address);
      if (!partner || !ADDRESS_RE.test(partner)) {
        this.rooms.set(roomId, { roomId, partner: null, valid: false });
        return;
      }
      record = this.roomRecord(roomId, partner);
      record.meJoined = true;
    }
    if (record.valid === false) return;
    if (state.length > 0 || record.valid === null) await this.judgeRoom(roomId);
    for (const event of room.timeline?.events ?? []) {
      if (event.sender === this.userId) continue; // our own echo
      if (event.type === 'm.room.encrypted') await this.onRoomEvent(roomId, event);
      else if (event.type === EVENT_TYPE && event.state_key === undefined) {
        // §4 rule 7: a plaintext payload on a unicast carrier.
        this.reject('unattested_device', localpartAddress(event.sender), null, 'room', 'plaintext room payload');
      }
    }
  }

  // §5 judging: creator, members, encryption and network.raiden.dm on the complete state.
  async judgeRoom(roomId) {
    const record = this.rooms.get(roomId);
    if (record.judging) {
      record.again = true;
      return record.judging;
    }
    record.judging = (async () => {
      do {
        record.again = false;
        const verdict = await this.judgeOnce(record);
        const wasReady = record.valid && record.partnerJoined;
        if (verdict.problem) {
          this.log('room', roomId, 'invalid:', verdict.problem);
          record.valid = false;
          record.problem = verdict.problem;
          this.emit('room', { room: roomId, partner: record.partner, state: 'invalid', problem: verdict.problem });
          if (record.meJoined) await this.api('POST', `/rooms/${enc(roomId)}/leave`, {}).catch(() => {});
          record.meJoined = false;
        } else {
          record.valid = true;
          record.createTs = verdict.createTs;
          record.partnerJoined = verdict.partnerJoined;
          record.meJoined = verdict.meJoined;
          if (!wasReady && record.partnerJoined && record.meJoined) {
            this.log('room', roomId, 'ready with', record.partner);
            this.emit('room', { room: roomId, partner: record.partner, state: 'ready' });
          }
        }
      } while (record.again);
    })().finally(() => {
      record.judging = null;
    });
    return record.judging;
  }

  async judgeOnce(record) {
    let events;
    try {
      events = await this.api('GET', `/rooms/${enc(record.roomId)}/state`);
    } catch (e) {
      return { problem: `state unreadable: ${e.message}` };
    }
    const partner = record.partner;
    const [lower, higher] = this.isLower(partner) ? [this.address, partner] : [partner, this.address];
    const lowerUser = this.partnerUserId(lower);
    const higherUser = this.partnerUserId(higher);
    const find = (type) => events.find((e) => e.type === type && e.state_key === '');
    const create = find('m.room.create');
    if (!create) return { problem: 'no m.room.create' };
    const creator = create.content?.creator ?? create.sender;
    if (creator !== lowerUser || create.sender !== lowerUser) return { problem: `created by ${creator}, not the lower address ${lowerUser}` };
    const encryption = find('m.room.encryption');
    if (!encryption || canonicalJson(encryption.content) !== canonicalJson(ENCRYPTION_CONTENT)) {
      return { problem: `m.room.encryption ${JSON.stringify(encryption?.content)}` };
    }
    const dm = find(DM_STATE);
    if (!dm || canonicalJson(dm.content) !== canonicalJson({ addresses: [lower, higher] })) {
      return { problem: `${DM_STATE} ${JSON.stringify(dm?.content)}` };
    }
    let meJoined = false;
    let partnerJoined = false;
    for (const m of events.filter((e) => e.type === 'm.room.member')) {
      const membership = m.content?.membership;
      if (membership !== 'join' && membership !== 'invite') continue;
      if (m.state_key !== lowerUser && m.state_key !== higherUser) return { problem: `member ${m.state_key}` };
      if (!(await this.validateUser(m.state_key))) return { problem: `member ${m.state_key} not validated` };
      if (membership === 'join' && m.state_key === this.userId) meJoined = true;
      if (membership === 'join' && m.state_key === this.partnerUserId(partner)) partnerJoined = true;
    }
    return { createTs: create.origin_server_ts ?? 0, meJoined, partnerJoined };
  }

  // The lower address invites again when the partner has not joined within 60 s.
  inviteAgain() {
    const now = Date.now();
    for (const room of this.rooms.values()) {
      if (!room.valid || !room.meJoined || room.partnerJoined || !this.isLower(room.partner)) continue;
      if (room.invitedAt && now - room.invitedAt > this.inviteAgainMs) {
        room.invitedAt = now;
        this.api('POST', `/rooms/${enc(room.roomId)}/invite`, { user_id: this.partnerUserId(room.partner) })
          .catch((e) => this.log('invite again failed:', e.message));
      }
    }
  }

  async onRoomEvent(roomId, event, { retry = false } = {}) {
    let decrypted;
    try {
      decrypted = await this.lock.run(() => this.machine.decryptRoomEvent(
        JSON.stringify({ ...event, room_id: roomId }),
        new RoomId(roomId),
        new DecryptionSettings(TrustRequirement.Untrusted),
      ));
    } catch (e) {
      if (!retry) this.undecrypted.push({ roomId, event, until: Date.now() + 30_000 });
      if (!retry) this.log('room event', event.event_id, 'not decrypted yet:', e.description ?? e.message ?? String(e));
      return false;
    }
    const plain = JSON.parse(decrypted.event);
    this.emit('megolm-plaintext', { sender: event.sender, room: roomId, type: plain.type, fields: Object.keys(plain).sort(), plainRoomId: plain.room_id });
    if (plain.type !== EVENT_TYPE) return true;
    if (plain.room_id !== undefined && plain.room_id !== roomId) {
      this.reject('malformed', localpartAddress(event.sender), null, 'room', 'megolm plaintext for another room');
      return true;
    }
    this.stats.megolmDecrypted++;
    const device = this.attested.get(decrypted.senderCurve25519Key);
    const record = this.rooms.get(roomId);
    if (!record?.valid) {
      this.reject('unattested_device', localpartAddress(event.sender), null, 'room', 'payload in a room that is not a valid DM room');
      return true;
    }
    await this.onPayload(plain.content, { carrier: 'room', device, room: roomId, partner: record.partner, matrixSender: event.sender });
    return true;
  }

  async retryUndecrypted() {
    const now = Date.now();
    const waiting = this.undecrypted;
    this.undecrypted = [];
    for (const item of waiting) {
      if (!(await this.onRoomEvent(item.roomId, item.event, { retry: true })) && item.until > now) this.undecrypted.push(item);
      else if (item.until <= now) this.log('gave up decrypting', item.event.event_id);
    }
  }

  // ---- envelopes in -------------------------------------------------------------------------

  reject(reason, from, nonce, carrier, detail, envelope) {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    this.log('rejected', reason, from ?? '?', nonce ?? '', carrier, detail ?? '');
    this.emit('rejected', { reason, from, nonce, carrier, detail, envelope });
  }

  async onPayload(content, { carrier, device, room, partner, matrixSender }) {
    const list = content?.envelopes;
    if (!Array.isArray(list)) {
      this.reject('malformed', localpartAddress(matrixSender), null, carrier, 'payload without envelopes');
      return;
    }
    const now = Date.now();
    for (const e of list) {
      const sender = typeof e?.sender === 'string' ? e.sender : null;
      const failed = checkEnvelope(e, { receiver: this.address, now, maxAgeMs: this.maxAgeMs });
      if (failed) {
        this.reject(failed.reason, sender, e?.nonce, carrier, failed.detail);
        continue;
      }
      if (room && sender !== partner) {
        this.reject('wrong_recipient', sender, e.nonce, carrier, 'envelope from outside the DM pair');
        continue;
      }
      const key = `${sender}|${e.nonce}`;
      if (this.seen.has(key)) {
        this.reject('replay', sender, e.nonce, carrier, undefined, e);
        if (e.kind === 'message') this.queueAck(sender, carrier, room, e.nonce);
        continue;
      }
      if (!device || device.address !== sender) {
        this.reject('unattested_device', sender, e.nonce, carrier, device ? `device of ${device.address}` : 'unknown device');
        continue;
      }
      this.seen.set(key, e.ts + this.maxAgeMs);
      if (e.kind === 'message') {
        this.stats.received[carrier]++;
        // Test hook: withholdAck(envelope) true leaves this first copy unacked (its resend,
        // a replay, is acked as usual).
        if (!this.withholdAck?.(e)) this.queueAck(sender, carrier, room, e.nonce);
        this.emit('message', { id: e.nonce, from: sender, body: e.body, ts: e.ts, carrier, room, envelope: e });
        if (carrier === 'to_device' || !this.readyRoom(sender)) this.ensureRoom(sender);
      } else {
        this.stats.acksReceived[carrier]++;
        this.emit('ack', { nonces: e.acks, from: sender, carrier });
        for (const nonce of e.acks) {
          const item = this.outbox.get(nonce);
          if (item && item.to === sender && !item.delivered) {
            item.delivered = true;
            this.emit('delivered', { id: nonce, to: sender, carrier });
          }
        }
        if (carrier === 'to_device') this.ensureRoom(sender);
      }
    }
    this.kick();
  }

  queueAck(partner, carrier, room, nonce) {
    const key = `${partner}|${carrier}`;
    let entry = this.pendingAcks.get(key);
    if (!entry) {
      entry = { partner, carrier, room, nonces: new Set() };
      this.pendingAcks.set(key, entry);
    }
    if (room) entry.room = room;
    entry.nonces.add(nonce);
  }

  // ---- envelopes out ------------------------------------------------------------------------

  // Signs a message to `to`, keeps it in the outbox, resends it until acked; returns its nonce.
  async send(to, body) {
    to = to.toLowerCase();
    if (!ADDRESS_RE.test(to)) throw new Error(`bad address ${to}`);
    const envelope = await signEnvelope(this.wallet, {
      kind: 'message', sender: this.address, recipient: to, nonce: hex(randomBytes(16)), ts: Date.now(), body,
    });
    this.outbox.set(envelope.nonce, { envelope, to, attempts: 0, next: 0, delivered: false, sentOn: [] });
    this.ensureRoom(to);
    this.kick();
    return envelope.nonce;
  }

  // Test hook: sends a stored envelope of ours again, identical, as a new Matrix event.
  async replay(nonce, carrier) {
    const item = this.outbox.get(nonce);
    if (!item) throw new Error(`no envelope ${nonce}`);
    return this.sendBatch(item.to, [item.envelope], carrier);
  }

  kick() {
    if (!this.kicked) {
      this.kicked = true;
      setImmediate(() => {
        this.kicked = false;
        this.tick();
      });
    }
  }

  carrierFor(partner) {
    return this.carrier === 'room' && this.readyRoom(partner) ? 'room' : 'to_device';
  }

  tick() {
    if (this.stopped || !this.machine) return;
    const now = Date.now();
    for (const [key, expiry] of this.seen) if (expiry < now) this.seen.delete(key);
    this.inviteAgain();
    const partners = new Set();
    for (const item of this.outbox.values()) {
      if (item.delivered || item.failed) continue;
      if (now > item.envelope.ts + this.maxAgeMs) {
        item.failed = true;
        this.emit('failed', { id: item.envelope.nonce, to: item.to });
        continue;
      }
      if (item.next <= now) partners.add(item.to);
    }
    for (const entry of this.pendingAcks.values()) partners.add(entry.partner);
    for (const partner of partners) if (!this.inFlight.has(partner)) this.flushPartner(partner);
  }

  async flushPartner(partner) {
    this.inFlight.add(partner);
    try {
      const now = Date.now();
      const carrier = this.carrierFor(partner);
      const batch = [];
      // Acks first, over the carrier their messages came on (room acks fall back to to_device
      // only when no room is ready any more).
      for (const [key, entry] of this.pendingAcks) {
        if (entry.partner !== partner) continue;
        const ackCarrier = entry.carrier === 'room' && !this.readyRoom(partner) ? 'to_device' : entry.carrier;
        if (ackCarrier !== carrier) {
          this.pendingAcks.delete(key);
          const nonces = [...entry.nonces];
          for (let i = 0; i < nonces.length; i += 256) {
            const ack = await signEnvelope(this.wallet, { kind: 'ack', sender: this.address, recipient: partner, nonce: hex(randomBytes(16)), ts: Date.now(), acks: nonces.slice(i, i + 256) });
            await this.sendBatch(partner, [ack], ackCarrier).catch((e) => this.log('ack send failed:', e.message));
          }
          continue;
        }
        this.pendingAcks.delete(key);
        const nonces = [...entry.nonces];
        for (let i = 0; i < nonces.length; i += 256) {
          batch.push(await signEnvelope(this.wallet, { kind: 'ack', sender: this.address, recipient: partner, nonce: hex(randomBytes(16)), ts: Date.now(), acks: nonces.slice(i, i + 256) }));
        }
      }
      const due = [...this.outbox.values()].filter((i) => i.to === partner && !i.delivered && !i.failed && i.next <= now);
      for (const item of due) {
        batch.push(item.envelope);
        item.attempts++;
        item.next = now + Math.min(this.maxResendMs, this.resendMs * 2 ** (item.attempts - 1));
        item.sentOn.push(carrier);
      }
      // Split at 40,000 bytes of payload.
      let chunk = [];
      let size = canonicalJson({ envelopes: [] }).length;
      for (const e of batch) {
        const n = utf8Length(canonicalJson(e)) + 1;
        if (chunk.length && size + n > MAX_PAYLOAD_BYTES) {
          await this.sendBatch(partner, chunk, carrier);
          chunk = [];
          size = canonicalJson({ envelopes: [] }).length;
        }
        chunk.push(e);
        size += n;
      }
      if (chunk.length) await this.sendBatch(partner, chunk, carrier);
    } catch (e) {
      this.log('send to', partner, 'failed:', e.message);
    } finally {
      this.inFlight.delete(partner);
    }
  }

  async sendBatch(partner, envelopes, carrier) {
    const payload = { envelopes };
    const partnerUserId = this.partnerUserId(partner);
    if (carrier === 'room') {
      const room = this.readyRoom(partner);
      if (!room) throw new Error('no ready room');
      const encrypted = await this.lock.run(async () => {
        await this.prepare(partnerUserId);
        if (!(this.attestedDevices.get(partnerUserId)?.size)) throw new Error(`no attested device of ${partner} yet`);
        const settings = new EncryptionSettings();
        settings.sharingStrategy = CollectStrategy.onlyTrustedDevices();
        settings.rotationPeriod = BigInt(ENCRYPTION_CONTENT.rotation_period_ms) * 1000n;
        settings.rotationPeriodMessages = BigInt(ENCRYPTION_CONTENT.rotation_period_msgs);
        const requests = await this.machine.shareRoomKey(new RoomId(room.roomId), [new UserId(partnerUserId)], settings);
        for (const r of requests) await this.machine.markRequestAsSent(r.id, r.type, JSON.stringify(await this.route(r)));
        return this.machine.encryptRoomEvent(new RoomId(room.roomId), EVENT_TYPE, JSON.stringify(payload));
      });
      await this.api('PUT', `/rooms/${enc(room.roomId)}/send/m.room.encrypted/${this.txnId()}`, JSON.parse(encrypted));
    } else {
      const messages = await this.lock.run(async () => {
        await this.prepare(partnerUserId);
        const attested = this.attestedDevices.get(partnerUserId);
        if (!attested?.size) throw new Error(`no attested device of ${partner} yet`);
        const out = {};
        const devices = await this.machine.getUserDevices(new UserId(partnerUserId));
        for (const device of devices.devices()) {
          const info = attested.get(device.deviceId.toString());
          if (!info || device.curve25519Key?.toBase64() !== info.curve25519) continue;
          try {
            out[device.deviceId.toString()] = JSON.parse(await device.encryptToDeviceEvent(EVENT_TYPE, payload));
          } catch (e) {
            this.log('olm encrypt for', device.deviceId.toString(), 'failed:', e.message ?? e);
          }
        }
        return out;
      });
      if (Object.keys(messages).length === 0) throw new Error(`no Olm session with ${partner} yet`);
      await this.api('PUT', `/sendToDevice/m.room.encrypted/${this.txnId()}`, { messages: { [partnerUserId]: messages } });
    }
    this.stats.sentBatches[carrier]++;
    this.log('sent', envelopes.length, 'envelope(s) to', partner, 'over', carrier,
      envelopes.map((e) => `${e.kind}:${e.nonce.slice(0, 6)}`).join(' '));
  }
}
