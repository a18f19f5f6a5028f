#!/usr/bin/env node
// Reference figures for mrt's Megolm: vodozemac through @matrix-org/matrix-sdk-crypto-wasm on node.
//   node bench/vodozemac_megolm.mjs [--seconds S] [--verbose]
//     S: seconds per timed round (default 2; each figure is the best of 3 rounds after a warm-up)
//     --verbose: each round's wall and CPU ns per call on stderr (CPU far below wall = contention)
// Prints one JSON object:
//   {"node": "v20…", "crypto_wasm": "18.…", "vodozemac_megolm_encrypt_256_ns": N,
//    "vodozemac_megolm_encrypt_4096_ns": N, "vodozemac_megolm_decrypt_256_ns": N,
//    "vodozemac_megolm_decrypt_4096_ns": N}
//
// NOT native vodozemac. What is measured is vodozemac compiled to wasm inside matrix-sdk-crypto's
// OlmMachine (the wasm bindings), called from node: each figure is the wall time of one awaited
// call and includes the machine's work around the Megolm primitive -- JSON parsing and
// serialisation on both sides of the JS/wasm boundary, string copies in and out of wasm memory,
// the session lookup (and unpickling) in the in-memory store, the Promise -- and wasm builds of the
// primitives (AES without AES-NI, Ed25519 on 32-bit limbs, SHA-2 without SHA extensions).
// Two OlmMachines (alice, bob) live in this process with in-memory stores; this script is their
// homeserver (keys/upload, keys/query, keys/claim, sendToDevice), nothing goes over a network.
// alice shares a room key for one room with bob over Olm; then, for event plaintexts of 256 B
// and 4 KiB (the JSON {"content":{"p":"xxx…"},"room_id":…,"type":"network.raiden.envelopes"}
// that Megolm encrypts, sized to the byte; checked ciphertexts match it to the AES block):
// - encrypt: alice.encryptRoomEvent(roomId, "network.raiden.envelopes", JSON.stringify(content)),
//   the same content every call (each call moves the outbound ratchet on by one);
// - decrypt: bob.decryptRoomEvent(eventJSON, roomId, DecryptionSettings(Untrusted)) of distinct
//   events (each its own event_id and message index), in the order alice made them. alice makes
//   them in untimed chunks of 1,000 between the timed stretches; each result's plaintext, sender
//   and type are checked after its chunk, untimed (so reading DecryptedRoomEvent.event is not in
//   the figure).
// Sessions: matrix-sdk-crypto clamps EncryptionSettings.rotationPeriodMessages to at most 10,000
// (and panics on an encryption past it), so the settings ask for 10,000 messages and ten years,
// and alice shares a new room key with bob (untimed) whenever the next chunk of 1,000 would cross
// 10,000: no timed stretch ever rotates (every chunk's first and last ciphertext are checked to
// be of the current session). Each session is used for its indices 0..9,999 in order.
// Index dependence of decrypt: the machine's in-memory store keeps inbound sessions as pickles
// of the session as received, so every decryption unpickles it and re-derives the Megolm ratchet
// from index 0 to the message's index: it costs more the higher the index's low bytes (seen: a
// message at index 255 about 2.5x one at index 256). Chunks of 1,000 consecutive indices give a
// mean over all values of the low byte.
// Timing: a warm-up, then 3 rounds of at least S seconds and 2,000 calls each of timed stretches,
// process.hrtime.bigint() around each stretch; the figure is the best round's mean ns per call
// (the machine is shared with other work).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import {
  DecryptionSettings,
  DeviceId,
  DeviceLists,
  EncryptionSettings,
  initAsync,
  OlmMachine,
  RequestType,
  RoomId,
  TrustRequirement,
  UserId,
} from '@matrix-org/matrix-sdk-crypto-wasm';

import { Homeserver, OTK } from '../tests/interop/key_hub.mjs';

function parseArgs(argv) {
  const usage = () => {
    console.error('usage: node bench/vodozemac_megolm.mjs [--seconds S] [--verbose]');
    process.exit(2);
  };
  let seconds = 2;
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seconds') {
      seconds = Number(argv[++i]);
      if (!(seconds > 0)) usage();
    } else if (argv[i] === '--verbose') verbose = true;
    else usage();
  }
  return { seconds, verbose };
}

const { seconds, verbose } = parseArgs(process.argv.slice(2));
const ROUNDS = 3;
const MIN_CALLS = 2000;
const CHUNK = 1000; // calls per timed stretch (between them: new room keys, new events, checks)
const SESSION_MESSAGES = 10_000; // matrix-sdk-crypto's upper clamp of rotation_period_msgs
const SIZES = [256, 4096];
const SERVER = 'bench.invalid';
const ROOM = `!bench:${SERVER}`;
const EVENT_TYPE = 'network.raiden.envelopes';

// The package version, from its own package.json (not exported: found next to its entry point).
const require = createRequire(import.meta.url);
function cryptoWasmVersion() {
  let dir = dirname(require.resolve('@matrix-org/matrix-sdk-crypto-wasm'));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === '@matrix-org/matrix-sdk-crypto-wasm') return pkg.version;
    } catch {}
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json of @matrix-org/matrix-sdk-crypto-wasm not found');
    dir = up;
  }
}


class Device {
  static async create(hs, name) {
    const self = new Device();
    self.hs = hs;
    self.user = `@${name}:${SERVER}`;
    self.device = name.toUpperCase();
    self.machine = await OlmMachine.initialize(new UserId(self.user), new DeviceId(self.device));
    self.roomKeys = [];
    self.machine.registerRoomKeyUpdatedCallback(async (infos) => {
      for (const info of infos) self.roomKeys.push({ room: info.roomId.toString(), session: info.sessionId });
    });
    return self;
  }
  async route(r) {
    const body = JSON.parse(r.body);
    switch (r.type) {
      case RequestType.KeysUpload:
        return this.hs.upload(this.user, this.device, body);
      case RequestType.KeysQuery:
        return this.hs.query(body);
      case RequestType.KeysClaim:
        return this.hs.claim(body);
      case RequestType.ToDevice:
        return this.hs.sendToDevice(this.user, r.event_type, body.messages);
      default:
        throw new Error(`${this.device} sent an unexpected request type ${r.type}`);
    }
  }
  async send(r) {
    await this.machine.markRequestAsSent(r.id, r.type, JSON.stringify(await this.route(r)));
  }
  async flush() {
    for (let round = 0; round < 10; round++) {
      const requests = await this.machine.outgoingRequests();
      if (requests.length === 0) return;
      for (const r of requests) await this.send(r);
    }
    throw new Error(`${this.device} keeps queueing requests`);
  }
  async sync() {
    const events = this.hs.takeInbox(this.user, this.device);
    await this.machine.receiveSyncChanges(
      JSON.stringify(events),
      new DeviceLists([], []),
      new Map([[OTK, this.hs.otkCount(this.user, this.device)]]),
      new Set(),
    );
    await this.flush();
    return events.length;
  }
}

// ---------------------------------------------------------------------------------------------

// A content whose Megolm plaintext {"content":…,"room_id":…,"type":…} is exactly `size` bytes.
function contentOfPlaintextSize(size) {
  const plaintext = (content) => JSON.stringify({ content, room_id: ROOM, type: EVENT_TYPE });
  const overhead = Buffer.byteLength(plaintext({ p: '' }));
  if (size < overhead) throw new Error(`plaintext of ${size} B is below the ${overhead} B of the frame`);
  const content = { p: 'x'.repeat(size - overhead) };
  if (Buffer.byteLength(plaintext(content)) !== size) throw new Error('plaintext sizing');
  return content;
}

// The AES-CBC ciphertext length in a Megolm message (version, index, ciphertext, MAC, signature).
function megolmCiphertextLength(base64) {
  const bytes = Buffer.from(base64, 'base64');
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[at++];
      value += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return value;
    }
  };
  if (bytes[at++] !== 3) throw new Error('not a Megolm v3 message');
  while (at < bytes.length - 8 - 64) {
    const tag = bytes[at++];
    if (tag === 0x08) varint();
    else if (tag === 0x12) return varint();
    else throw new Error(`unexpected Megolm message tag ${tag}`);
  }
  throw new Error('no ciphertext in the Megolm message');
}

function roomEvent(sender, content, eventId) {
  const ts = 1_700_000_000_000;
  return { type: 'm.room.encrypted', room_id: ROOM, sender, event_id: eventId, origin_server_ts: ts, content };
}

async function main() {
  await initAsync();
  const hs = new Homeserver();
  const alice = await Device.create(hs, 'alice');
  const bob = await Device.create(hs, 'bob');
  await alice.flush();
  await bob.flush();
  await alice.machine.updateTrackedUsers([new UserId(bob.user)]);
  await bob.machine.updateTrackedUsers([new UserId(alice.user)]);
  await alice.flush();
  await bob.flush();

  // The Olm session alice -> bob; the room key goes over it.
  const claim = await alice.machine.getMissingSessions([new UserId(bob.user)]);
  if (!claim) throw new Error('alice has no session to open with bob');
  await alice.send(claim);

  const roomId = new RoomId(ROOM);
  const decryption = new DecryptionSettings(TrustRequirement.Untrusted);
  const settings = new EncryptionSettings();
  settings.rotationPeriodMessages = BigInt(SESSION_MESSAGES);
  settings.rotationPeriod = 10n * 365n * 24n * 3600n * 1_000_000n; // ten years, in µs
  let sessionId = null; // the current Megolm session, as bob received it
  let sessionUsed = 0; // messages alice encrypted with it
  let sessions = 0;

  // alice shares a new room key with bob (a new session unless none was ever shared).
  async function shareRoomKey() {
    if (sessionId !== null && !(await alice.machine.invalidateGroupSession(roomId))) {
      throw new Error('alice had no outbound session to discard');
    }
    const requests = await alice.machine.shareRoomKey(roomId, [new UserId(bob.user)], settings);
    if (requests.length === 0) throw new Error('alice sent no room key');
    for (const r of requests) await alice.send(r);
    bob.roomKeys.length = 0;
    if ((await bob.sync()) === 0) throw new Error('bob got no to-device event');
    if (bob.roomKeys.length !== 1 || bob.roomKeys[0].room !== ROOM || bob.roomKeys[0].session === sessionId) {
      throw new Error(`bob's new room keys: ${JSON.stringify(bob.roomKeys)}`);
    }
    sessionId = bob.roomKeys[0].session;
    sessionUsed = 0;
    sessions++;
  }
  // Before `n` encryptions in a row: a fresh session if the current one would expire (untimed).
  async function reserve(n) {
    if (sessionUsed + n > SESSION_MESSAGES) await shareRoomKey();
    sessionUsed += n;
  }
  await shareRoomKey();

  // An encrypted event content from alice, checked: the current session, the plaintext size.
  const checkEncrypted = (json, size) => {
    const content = JSON.parse(json);
    if (content.session_id !== sessionId) throw new Error('the outbound session rotated');
    const len = megolmCiphertextLength(content.ciphertext);
    if (len !== (Math.floor(size / 16) + 1) * 16) throw new Error(`ciphertext of ${len} B for a ${size} B plaintext`);
    return content;
  };

  // One timed stretch of CHUNK encryptions by alice; the first and last ciphertexts checked.
  async function encryptStretch(content, size) {
    const text = JSON.stringify(content);
    await reserve(CHUNK);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const first = await alice.machine.encryptRoomEvent(roomId, EVENT_TYPE, text);
    let last = first;
    for (let i = 1; i < CHUNK; i++) last = await alice.machine.encryptRoomEvent(roomId, EVENT_TYPE, text);
    const wall = process.hrtime.bigint() - t0;
    const cpu = process.cpuUsage(c0);
    checkEncrypted(first, size);
    checkEncrypted(last, size);
    return { wall, cpu: cpu.user + cpu.system };
  }

  // CHUNK new events from alice (untimed), then one timed stretch of their decryption by bob in
  // order; then every result checked (untimed).
  let eventCounter = 0;
  async function decryptStretch(content, size) {
    const text = JSON.stringify(content);
    await reserve(CHUNK);
    const events = [];
    for (let i = 0; i < CHUNK; i++) {
      const encrypted = checkEncrypted(await alice.machine.encryptRoomEvent(roomId, EVENT_TYPE, text), size);
      events.push(JSON.stringify(roomEvent(alice.user, encrypted, `$bench${eventCounter++}`)));
    }
    const results = new Array(CHUNK);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CHUNK; i++) results[i] = await bob.machine.decryptRoomEvent(events[i], roomId, decryption);
    const wall = process.hrtime.bigint() - t0;
    const cpu = process.cpuUsage(c0);
    for (const r of results) {
      const event = JSON.parse(r.event);
      if (event.type !== EVENT_TYPE || event.content.p !== content.p || r.sender.toString() !== alice.user) {
        throw new Error('bob decrypted something else');
      }
      r.free();
    }
    return { wall, cpu: cpu.user + cpu.system };
  }

  // Stretches until `budget` s of timed wall time and `minCalls` calls: wall and CPU ns per call.
  async function round(stretch, content, size, budget, minCalls) {
    const budgetNs = BigInt(Math.round(budget * 1e9));
    let calls = 0;
    let wall = 0n;
    let cpuUs = 0;
    while (wall < budgetNs || calls < minCalls) {
      const r = await stretch(content, size);
      wall += r.wall;
      cpuUs += r.cpu;
      calls += CHUNK;
    }
    return { ns: Number(wall) / calls, cpuNs: (cpuUs * 1000) / calls, calls };
  }

  const out = { node: process.version, crypto_wasm: cryptoWasmVersion() };
  const warmup = Math.min(0.5, seconds / 2);
  for (const [kind, stretch] of [['encrypt', encryptStretch], ['decrypt', decryptStretch]]) {
    for (const size of SIZES) {
      const content = contentOfPlaintextSize(size);
      await round(stretch, content, size, warmup, CHUNK);
      let best = Infinity;
      for (let i = 0; i < ROUNDS; i++) {
        const r = await round(stretch, content, size, seconds, MIN_CALLS);
        best = Math.min(best, r.ns);
        if (verbose) {
          const per = `${Math.round(r.ns)} ns wall, ${Math.round(r.cpuNs)} ns CPU per call`;
          console.error(`${kind} ${size} B round ${i + 1}: ${r.calls} calls, ${per}`);
        }
      }
      out[`vodozemac_megolm_${kind}_${size}_ns`] = Math.round(best);
    }
  }
  if (verbose) console.error(`${sessions} Megolm sessions, ${eventCounter} events decrypted`);

  alice.machine.close();
  bob.machine.close();
  console.log(JSON.stringify(out));
}

await main();
