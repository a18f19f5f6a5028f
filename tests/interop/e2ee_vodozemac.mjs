// mrt's E2eeMachine against vodozemac (matrix-sdk-crypto-wasm's OlmMachine), with this script
// as the homeserver between them: it answers keys/upload, keys/query, keys/claim (one-time keys,
// then the fallback key) and sendToDevice for both, and carries room events from one to the
// other. mrt runs in tests/interop/e2ee_peer.cpp (JSON lines on stdin/stdout).
//
//   node tests/interop/e2ee_vodozemac.mjs --peer build/tests/mrt_e2ee_peer [--verbose]
//
// The wasm devices are attested as PROTOCOL.md section 3 asks: the attestation is added to the
// device_keys of their keys/upload and the object is signed again with the device's own Ed25519
// key (OlmMachine.sign), replacing the self-signature vodozemac made without it.
//
// Checked, in order (each step fails the run with its name):
//   bad input: the peer answers garbage and unknown commands with errors and keeps going
//   attestation: stripped -> not_attested (nothing sent to it, a room key withheld with a
//     notice vodozemac understands), signed by another Ethereum key -> invalid, proper ->
//     attested for the wasm wallet's address; vodozemac accepts mrt's attested device keys
//   olm: mrt -> wasm (mrt claims a one-time key, vodozemac takes the pre-key message),
//     wasm -> mrt on the same session, an Olm replay refused
//   room keys: wasm shareRoomKey -> mrt stores it; mrt share_room_key -> vodozemac stores it;
//     the key withheld before the attestation reaches the device once it is attested
//   megolm: messages both ways with sender, device, trust and address; a ciphertext replayed
//     under a new event id is refused, the same event delivered again is not
//   fallback: a second wasm device finds mrt's one-time keys gone, claims the fallback key and
//     opens a session with pre-key messages; mrt publishes new keys; the new device gets the
//     current room key (no rotation) and reads mrt's next message
//   msc4147: first messages between devices that never queried each other's keys, both ways
//     (mrt writes org.matrix.msc4147.device_keys, vodozemac the v1.15 name sender_device_keys)
//   restart: mrt reopens from its store and both directions still decrypt, replays still refused
//   wedged: mrt restored from an older copy of its store cannot read vodozemac's next Olm
//     message; it claims a new one-time key, sends m.dummy, and vodozemac's reply decrypts
//
// Exit status 0 on success, 1 on failure, 2 on bad usage.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import {
  DecryptionSettings,
  DeviceId,
  DeviceLists,
  EncryptionSettings,
  initAsync,
  OlmMachine,
  ProcessedToDeviceEventType,
  RequestType,
  RoomId,
  TrustRequirement,
  UserId,
} from '@matrix-org/matrix-sdk-crypto-wasm';
import { Wallet } from 'ethers';

import { Homeserver, OTK } from './key_hub.mjs';

const { values: args } = parseArgs({
  options: { peer: { type: 'string' }, verbose: { type: 'boolean' } },
});
if (!args.peer) {
  console.error('usage: node e2ee_vodozemac.mjs --peer PATH_TO_MRT_E2EE_PEER [--verbose]');
  process.exit(2);
}

const SERVER = 'hs.test';
const ROOM = '!dm:hs.test';
const EARLY_ROOM = '!early:hs.test'; // shared while the wasm device was not attested yet
const EVENT_TYPE = 'network.raiden.envelopes';
const CALL_TIMEOUT_MS = 10_000;
const log = (...what) => args.verbose && console.error(...what);

// PROTOCOL.md section 1: the Matrix spec's canonical JSON (keys by code point, no whitespace,
// integers only). JSON.stringify already writes strings with the shortest escapes.
function canonical(value) {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || Object.is(value, -0)) throw new Error(`not canonical: ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const byCodePoint = (a, b) => {
    const x = [...a];
    const y = [...b];
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const d = x[i].codePointAt(0) - y[i].codePointAt(0);
      if (d) return d;
    }
    return x.length - y.length;
  };
  const keys = Object.keys(value).sort(byCodePoint);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
}

const userIdOf = (wallet) => `@${wallet.address.toLowerCase()}:${SERVER}`;
const envelopes = (text) => ({ envelopes: [{ v: 1, kind: 'message', body: text }] });

// ---------------------------------------------------------------------------------------------
// mrt: the peer process.

class MrtPeer {
  constructor(path, hs) {
    this.hs = hs;
    this.child = spawn(path, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  // One request, one answer line; {"error"} answers throw unless `raw`.
  async call(cmd, fields = {}, { raw = false } = {}) {
    return this.send(JSON.stringify({ cmd, ...fields }), cmd, raw);
  }
  async send(line, what, raw = true) {
    this.child.stdin.write(`${line}\n`);
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`mrt peer: no answer to ${what}`)), CALL_TIMEOUT_MS);
    });
    const next = await Promise.race([this.lines.next(), timeout]).finally(() => clearTimeout(timer));
    if (next.done) throw new Error(`mrt peer exited during ${what}: ${JSON.stringify(await this.exited)}`);
    const answer = JSON.parse(next.value);
    if (answer.error && !raw) throw new Error(`mrt peer ${what}: ${answer.error}`);
    return answer;
  }

  async open(dir, wallet, device) {
    this.user = userIdOf(wallet);
    this.device = device;
    const identity = await this.call('open', { dir, key: wallet.privateKey, user_id: this.user, device_id: device });
    this.curve25519 = identity.curve25519;
    return identity;
  }

  // Sends every queued request to the homeserver until none is left.
  async flush() {
    for (let round = 0; round < 10; round++) {
      const { requests } = await this.call('outgoing_requests');
      if (requests.length === 0) return;
      for (const r of requests) {
        log('mrt ->', r.type, r.path);
        let response;
        if (r.type === 'keys_upload') response = await this.hs.upload(this.user, this.device, r.body);
        else if (r.type === 'keys_query') response = this.hs.query(r.body);
        else if (r.type === 'keys_claim') response = this.hs.claim(r.body);
        else if (r.type === 'to_device') {
          const match = /^\/_matrix\/client\/v3\/sendToDevice\/([^/]+)\/([^/]+)$/.exec(r.path);
          assert.ok(match, `mrt to-device path ${r.path}`);
          assert.equal(match[2], r.id, 'the to-device transaction id is the request id');
          response = this.hs.sendToDevice(this.user, decodeURIComponent(match[1]), r.body.messages);
        } else throw new Error(`mrt sent an unexpected request ${r.type}`);
        await this.call('mark_request_as_sent', { id: r.id, response });
      }
    }
    throw new Error('mrt keeps queueing requests');
  }

  async sync({ changed = [], toDevice } = {}) {
    return this.call('receive_sync_changes', {
      to_device: toDevice ?? this.hs.takeInbox(this.user, this.device),
      changed,
      left: [],
      otk_counts: { [OTK]: this.hs.otkCount(this.user, this.device) },
      unused_fallback: this.hs.unusedFallback(this.user, this.device),
    });
  }

  async deviceInfo(user, device) {
    const { devices } = await this.call('devices_of', { user });
    return devices.find((d) => d.device_id === device);
  }

  // encrypt_to_device until it no longer waits for keys or sessions.
  async encryptToDevice(user, content) {
    for (let attempt = 0; attempt < 4; attempt++) {
      await this.flush();
      const outcome = await this.call('encrypt_to_device', { user, type: EVENT_TYPE, content });
      if (outcome.complete) {
        await this.flush();
        return outcome;
      }
    }
    throw new Error('mrt encrypt_to_device never completed');
  }

  // share_room_key until it no longer waits for keys or sessions; what all the calls did.
  async shareRoomKey(room, members) {
    const total = { sent: [], withheld: [], rotated: false };
    for (let attempt = 0; attempt < 4; attempt++) {
      await this.flush();
      const outcome = await this.call('share_room_key', { room, members });
      total.sent.push(...outcome.sent);
      total.withheld.push(...outcome.withheld);
      total.rotated ||= outcome.rotated;
      if (outcome.complete) {
        await this.flush();
        return total;
      }
    }
    throw new Error('mrt share_room_key never completed');
  }

  async close() {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill(), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// vodozemac: a matrix-sdk-crypto OlmMachine in memory.

class WasmDevice {
  static async create(hs, wallet, device) {
    const self = new WasmDevice();
    self.hs = hs;
    self.wallet = wallet;
    self.user = userIdOf(wallet);
    self.device = device;
    self.machine = await OlmMachine.initialize(new UserId(self.user), new DeviceId(device));
    self.roomKeys = [];
    self.withheld = [];
    self.machine.registerRoomKeysWithheldCallback(async (infos) => {
      for (const info of infos) {
        self.withheld.push({ room: info.roomId.toString(), sender: info.sender.toString(), code: info.withheldCode });
      }
    });
    self.machine.registerRoomKeyUpdatedCallback(async (infos) => {
      for (const info of infos) {
        self.roomKeys.push({ room: info.roomId.toString(), senderKey: info.senderKey.toBase64(), session: info.sessionId });
      }
    });
    return self;
  }

  get curve25519() {
    return this.machine.identityKeys.curve25519.toBase64();
  }

  async route(r) {
    const body = JSON.parse(r.body);
    log('wasm', this.device, '->', r.type);
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
        throw new Error(`wasm sent an unexpected request type ${r.type}`);
    }
  }

  async flush() {
    for (let round = 0; round < 10; round++) {
      const requests = await this.machine.outgoingRequests();
      if (requests.length === 0) return;
      for (const r of requests) {
        await this.machine.markRequestAsSent(r.id, r.type, JSON.stringify(await this.route(r)));
      }
    }
    throw new Error('wasm keeps queueing requests');
  }

  async sync({ changed = [] } = {}) {
    const events = this.hs.takeInbox(this.user, this.device);
    const processed = await this.machine.receiveSyncChanges(
      JSON.stringify(events),
      new DeviceLists(changed.map((u) => new UserId(u)), []),
      new Map([[OTK, this.hs.otkCount(this.user, this.device)]]),
      new Set(this.hs.unusedFallback(this.user, this.device)),
    );
    await this.flush();
    return processed;
  }

  // Opens Olm sessions with the user's devices where there are none.
  async claimMissingSessions(user) {
    const claim = await this.machine.getMissingSessions([new UserId(user)]);
    if (claim) await this.machine.markRequestAsSent(claim.id, claim.type, JSON.stringify(await this.route(claim)));
    return Boolean(claim);
  }

  async sendToDevice(user, device, content) {
    const target = await this.machine.getDevice(new UserId(user), new DeviceId(device));
    assert.ok(target, `wasm ${this.device} knows ${user} ${device}`);
    const encrypted = JSON.parse(await target.encryptToDeviceEvent(EVENT_TYPE, content));
    this.hs.sendToDevice(this.user, 'm.room.encrypted', { [user]: { [device]: encrypted } });
    return encrypted;
  }

  async shareRoomKey(room, users) {
    await this.claimMissingSessions(users[0]);
    const requests = await this.machine.shareRoomKey(
      new RoomId(room),
      users.map((u) => new UserId(u)),
      new EncryptionSettings(),
    );
    for (const r of requests) await this.machine.markRequestAsSent(r.id, r.type, JSON.stringify(await this.route(r)));
    return requests.length;
  }

  async encryptRoomEvent(room, content, eventId) {
    const encrypted = await this.machine.encryptRoomEvent(new RoomId(room), EVENT_TYPE, JSON.stringify(content));
    return roomEvent(room, this.user, JSON.parse(encrypted), eventId);
  }

  async decryptRoomEvent(event) {
    return this.machine.decryptRoomEvent(
      JSON.stringify(event),
      new RoomId(event.room_id),
      new DecryptionSettings(TrustRequirement.Untrusted),
    );
  }
}

// The Olm message types (0 pre-key, 1 normal) of to-device events for one Curve25519 key.
const olmTypes = (events, curve) => events.map((e) => e.content.ciphertext?.[curve]?.type);

function roomEvent(room, sender, content, eventId) {
  return { type: 'm.room.encrypted', room_id: room, sender, event_id: eventId, origin_server_ts: Date.now(), content };
}

// PROTOCOL.md section 3: the attestation for `address`, made by `signer` (an ethers wallet; none
// for a device without attestation), goes into device_keys; then the device signs the whole
// object (without `signatures` and `unsigned`) again with its own Ed25519 key.
async function attest(machine, deviceKeys, address, signer) {
  const { signatures, unsigned, ...keys } = deviceKeys;
  if (signer) {
    const issuedAt = Date.now();
    const payload = canonical({ address, device_id: keys.device_id, issued_at: issuedAt, keys: keys.keys, user_id: keys.user_id });
    keys['network.raiden.attestation'] = { address, issued_at: issuedAt, sig: await signer.signMessage(payload) };
  }
  const selfSignature = await machine.sign(canonical(keys));
  return { ...keys, signatures: JSON.parse(selfSignature.asJSON()) };
}

// ---------------------------------------------------------------------------------------------

const steps = [];
async function step(name, body) {
  const started = Date.now();
  try {
    await body();
  } catch (e) {
    e.message = `${name}: ${e.message}`;
    throw e;
  }
  steps.push(`ok ${name} (${Date.now() - started} ms)`);
  log(steps.at(-1));
}

function decryptedToDevice(processed, type) {
  const decrypted = processed.filter((p) => p.type === ProcessedToDeviceEventType.Decrypted);
  const undecrypted = processed.filter((p) => p.type !== ProcessedToDeviceEventType.Decrypted);
  assert.deepEqual(undecrypted.map((p) => p.rawEvent), [], 'every to-device event decrypts');
  return decrypted.filter((p) => JSON.parse(p.rawEvent).type === type);
}

async function main() {
  const started = Date.now();
  await initAsync();
  const hs = new Homeserver();
  const wasmWallet = Wallet.createRandom();
  const mrtWallet = Wallet.createRandom();
  const otherWallet = Wallet.createRandom();
  const wasmUser = userIdOf(wasmWallet);
  const wasmAddress = wasmWallet.address.toLowerCase();
  const mrtAddress = mrtWallet.address.toLowerCase();
  const dir = mkdtempSync(join(tmpdir(), 'mrt-e2ee-vodozemac-'));
  const mrt = new MrtPeer(args.peer, hs);
  // The three forms of a wasm device's keys the attestation step serves, by device id.
  const variants = new Map();

  try {
    await step('mrt peer answers bad input with errors and keeps going', async () => {
      assert.match((await mrt.send('{not json', 'garbage')).error, /./);
      assert.match((await mrt.send('[1,2]', 'an array')).error, /object/);
      assert.match((await mrt.call('outgoing_requests', {}, { raw: true })).error, /open/);
      const opened = await mrt.open(join(dir, 'mrt'), mrtWallet, 'MRTDEVICE');
      assert.equal(opened.address, mrtAddress);
      assert.match((await mrt.call('no_such_command', {}, { raw: true })).error, /unknown command/);
      assert.match((await mrt.call('share_room_key', { room: 5 }, { raw: true })).error, /room/);
      assert.deepEqual(await mrt.call('decrypt_room_event', { event: 'nonsense' }), { reason: 'malformed_event' });
    });

    await step('both devices publish their keys', async () => {
      hs.onDeviceKeys = async (keys) => {
        const wasm = wasmDevices.get(keys.device_id);
        if (!wasm) return keys; // mrt attests its own device
        // matrix-sdk-crypto signs its device keys without the attestation: re-signed with it.
        assert.equal(keys['network.raiden.attestation'], undefined);
        const attested = await attest(wasm.machine, keys, wasmAddress, wasmWallet);
        variants.set(keys.device_id, {
          attested,
          stripped: await attest(wasm.machine, keys, wasmAddress, null),
          forged: await attest(wasm.machine, keys, wasmAddress, otherWallet),
        });
        return attested;
      };
      await mrt.flush();
      const mrtKeys = hs.deviceKeys.get(mrt.user).get('MRTDEVICE');
      assert.equal(mrtKeys['network.raiden.attestation'].address, mrtAddress);
      assert.equal(mrtKeys.keys['curve25519:MRTDEVICE'], mrt.curve25519);
      assert.equal(hs.otkCount(mrt.user, 'MRTDEVICE'), 50, 'mrt keeps 50 one-time keys published');
      assert.deepEqual(hs.unusedFallback(mrt.user, 'MRTDEVICE'), [OTK], 'mrt publishes a fallback key');

      wasmDevices.set('WASMA', await WasmDevice.create(hs, wasmWallet, 'WASMA'));
      await wasmDevices.get('WASMA').flush();
      const published = hs.deviceKeys.get(wasmUser).get('WASMA');
      assert.equal(published['network.raiden.attestation'].address, wasmAddress);
      assert.ok(hs.otkCount(wasmUser, 'WASMA') > 0, 'vodozemac published one-time keys');
    });
    const wasmA = wasmDevices.get('WASMA');

    await step('mrt classifies the wasm device by its attestation', async () => {
      const served = hs.deviceKeys.get(wasmUser);
      const { stripped, forged, attested } = variants.get('WASMA');

      served.set('WASMA', stripped);
      await mrt.call('update_tracked_users', { users: [wasmUser] });
      await mrt.flush();
      let device = await mrt.deviceInfo(wasmUser, 'WASMA');
      assert.equal(device?.trust, 'not_attested', 'self-signed without an attestation');
      assert.equal(device.problem, 'missing_attestation');
      assert.equal(device.address, null);
      // Nothing goes to a device that is not attested.
      const none = await mrt.encryptToDevice(wasmUser, envelopes('not for you'));
      assert.deepEqual(none.sent, []);
      assert.deepEqual(hs.takeInbox(wasmUser, 'WASMA'), []);
      // A room key is withheld from it, and vodozemac understands mrt's notice.
      const early = await mrt.shareRoomKey(EARLY_ROOM, [wasmUser]);
      assert.deepEqual([early.sent, early.withheld], [[], [{ user_id: wasmUser, device_id: 'WASMA' }]]);
      await mrt.flush();
      await wasmA.sync();
      assert.deepEqual(wasmA.withheld, [{ room: EARLY_ROOM, sender: mrt.user, code: 'm.unverified' }]);

      served.set('WASMA', forged);
      await mrt.sync({ changed: [wasmUser] });
      await mrt.flush();
      device = await mrt.deviceInfo(wasmUser, 'WASMA');
      assert.equal(device?.trust, 'invalid', 'attestation signed by another Ethereum key');
      assert.equal(device.problem, 'bad_attestation_signature');

      served.set('WASMA', attested);
      await mrt.sync({ changed: [wasmUser] });
      await mrt.flush();
      device = await mrt.deviceInfo(wasmUser, 'WASMA');
      assert.equal(device?.trust, 'attested', `problem: ${device?.problem}`);
      assert.equal(device.address, wasmAddress);
      assert.equal(device.curve25519, wasmA.curve25519);
    });

    await step('vodozemac accepts mrt\'s attested device keys', async () => {
      await wasmA.machine.updateTrackedUsers([new UserId(mrt.user)]);
      await wasmA.flush();
      const device = await wasmA.machine.getDevice(new UserId(mrt.user), new DeviceId('MRTDEVICE'));
      assert.ok(device, 'vodozemac lists the mrt device (its self-signature covers the attestation)');
      assert.equal(device.curve25519Key.toBase64(), mrt.curve25519);
    });

    await step('olm: mrt -> vodozemac (pre-key on a claimed one-time key)', async () => {
      const otksBefore = hs.otkCount(wasmUser, 'WASMA');
      const content = envelopes('mrt to wasm over olm');
      const outcome = await mrt.encryptToDevice(wasmUser, content);
      assert.deepEqual(outcome.sent, [{ user_id: wasmUser, device_id: 'WASMA' }]);
      assert.equal(hs.otkCount(wasmUser, 'WASMA'), otksBefore - 1, 'mrt claimed one one-time key');
      assert.deepEqual(olmTypes(hs.inbox.get(`${wasmUser}|WASMA`), wasmA.curve25519), [0], 'a pre-key message');
      const [event] = decryptedToDevice(await wasmA.sync(), EVENT_TYPE);
      assert.ok(event, 'vodozemac decrypted the to-device event');
      assert.deepEqual(JSON.parse(event.rawEvent).content, content);
      assert.equal(JSON.parse(event.rawEvent).sender, mrt.user);
      assert.equal(event.encryptionInfo.sender.toString(), mrt.user);
      assert.equal(event.encryptionInfo.senderDevice?.toString(), 'MRTDEVICE');
      assert.equal(event.encryptionInfo.senderCurve25519Key, mrt.curve25519);
    });

    let wasmToMrt;
    await step('olm: vodozemac -> mrt (on the session mrt opened), replay refused', async () => {
      assert.equal(await wasmA.claimMissingSessions(mrt.user), false, 'vodozemac has a session');
      const content = envelopes('wasm to mrt over olm');
      await wasmA.sendToDevice(mrt.user, 'MRTDEVICE', content);
      wasmToMrt = hs.inbox.get(`${mrt.user}|MRTDEVICE`).slice();
      assert.deepEqual(olmTypes(wasmToMrt, mrt.curve25519), [1], 'a normal message: the session is shared');
      const received = await mrt.sync();
      assert.deepEqual(received.rejected, []);
      assert.equal(received.events.length, 1);
      const [event] = received.events;
      assert.equal(event.type, EVENT_TYPE);
      assert.deepEqual(event.content, content);
      assert.equal(event.sender, wasmUser);
      assert.equal(event.sender_device, 'WASMA');
      assert.equal(event.sender_curve25519, wasmA.curve25519);
      assert.equal(event.trust, 'attested');
      assert.equal(event.address, wasmAddress);

      const replay = await mrt.sync({ toDevice: wasmToMrt });
      assert.deepEqual(replay.events, []);
      assert.deepEqual(replay.rejected, [{ sender: wasmUser, reason: 'replayed' }]);
    });

    await step('room key: vodozemac shareRoomKey -> mrt', async () => {
      assert.ok((await wasmA.shareRoomKey(ROOM, [mrt.user])) > 0, 'vodozemac sent the room key');
      const received = await mrt.sync();
      assert.deepEqual(received.rejected, []);
      assert.equal(received.room_keys_received, 1);
      assert.deepEqual(received.events, [], 'm.room_key is consumed by the machine');
    });

    await step('room key: mrt share_room_key -> vodozemac', async () => {
      const outcome = await mrt.shareRoomKey(ROOM, [wasmUser]);
      assert.equal(outcome.rotated, true);
      assert.deepEqual(outcome.sent, [{ user_id: wasmUser, device_id: 'WASMA' }]);
      assert.deepEqual(outcome.withheld, []);
      await mrt.flush();
      wasmA.roomKeys.length = 0;
      decryptedToDevice(await wasmA.sync(), 'm.room_key');
      assert.deepEqual(
        wasmA.roomKeys.map(({ room, senderKey }) => ({ room, senderKey })),
        [{ room: ROOM, senderKey: mrt.curve25519 }],
        'vodozemac stored mrt\'s room key',
      );
    });

    await step('room key: the key withheld before the attestation arrives once attested', async () => {
      const late = await mrt.shareRoomKey(EARLY_ROOM, [wasmUser]);
      assert.deepEqual(late.sent, [{ user_id: wasmUser, device_id: 'WASMA' }]);
      assert.equal(late.rotated, false);
      wasmA.roomKeys.length = 0;
      decryptedToDevice(await wasmA.sync(), 'm.room_key');
      assert.deepEqual(wasmA.roomKeys.map(({ room }) => room), [EARLY_ROOM]);
      const content = envelopes('in the early room');
      const encrypted = await mrt.call('encrypt_room_event', { room: EARLY_ROOM, type: EVENT_TYPE, content });
      const decrypted = await wasmA.decryptRoomEvent(roomEvent(EARLY_ROOM, mrt.user, encrypted.content, '$early'));
      assert.deepEqual(JSON.parse(decrypted.event).content, content);
    });

    let firstWasmEvent;
    await step('megolm: vodozemac -> mrt, replay under a new event id refused', async () => {
      for (let i = 0; i < 3; i++) {
        const content = envelopes(`wasm room message ${i} \u00e9\u{1F98A}`);
        const event = await wasmA.encryptRoomEvent(ROOM, content, `$wasm${i}`);
        firstWasmEvent ??= event;
        const decrypted = await mrt.call('decrypt_room_event', { event });
        assert.equal(decrypted.reason, undefined, `decrypts: ${decrypted.reason}`);
        assert.equal(decrypted.type, EVENT_TYPE);
        assert.deepEqual(decrypted.content, content);
        assert.equal(decrypted.sender, wasmUser);
        assert.equal(decrypted.sender_device, 'WASMA');
        assert.equal(decrypted.sender_curve25519, wasmA.curve25519);
        assert.equal(decrypted.trust, 'attested');
        assert.equal(decrypted.address, wasmAddress);
        assert.equal(decrypted.message_index, i);
      }
      const again = await mrt.call('decrypt_room_event', { event: firstWasmEvent });
      assert.equal(again.message_index, 0, 'the same event delivered twice decrypts twice');
      const replayed = await mrt.call('decrypt_room_event', { event: { ...firstWasmEvent, event_id: '$replay' } });
      assert.deepEqual(replayed, { reason: 'replayed' });
    });

    await step('megolm: mrt -> vodozemac', async () => {
      for (let i = 0; i < 3; i++) {
        const content = envelopes(`mrt room message ${i} \u00e9\u{1F98A}`);
        const encrypted = await mrt.call('encrypt_room_event', { room: ROOM, type: EVENT_TYPE, content });
        assert.equal(encrypted.reason, undefined, `encrypts: ${encrypted.reason}`);
        const decrypted = await wasmA.decryptRoomEvent(roomEvent(ROOM, mrt.user, encrypted.content, `$mrt${i}`));
        const event = JSON.parse(decrypted.event);
        assert.equal(event.type, EVENT_TYPE);
        assert.deepEqual(event.content, content);
        assert.equal(decrypted.sender.toString(), mrt.user);
        assert.equal(decrypted.senderDevice?.toString(), 'MRTDEVICE');
        assert.equal(decrypted.senderCurve25519Key, mrt.curve25519);
      }
    });

    await step('fallback key: a new vodozemac device opens a session on mrt\'s fallback key', async () => {
      const wasmB = await WasmDevice.create(hs, wasmWallet, 'WASMB');
      wasmDevices.set('WASMB', wasmB);
      await wasmB.flush();
      await mrt.sync({ changed: [wasmUser] });
      await mrt.flush();
      const device = await mrt.deviceInfo(wasmUser, 'WASMB');
      assert.equal(device?.trust, 'attested', `problem: ${device?.problem}`);

      await wasmB.machine.updateTrackedUsers([new UserId(mrt.user)]);
      await wasmB.flush();
      // Every one-time key of mrt's was handed out: the claim gets the fallback key.
      hs.otks.get(`${mrt.user}|MRTDEVICE`).clear();
      assert.equal(await wasmB.claimMissingSessions(mrt.user), true);
      assert.deepEqual(hs.unusedFallback(mrt.user, 'MRTDEVICE'), [], 'the fallback key was claimed');
      // Two pre-key messages before any reply: the second lands on the session the first made.
      for (const text of ['first on the fallback key', 'second on the fallback key']) {
        await wasmB.sendToDevice(mrt.user, 'MRTDEVICE', envelopes(text));
      }
      assert.deepEqual(olmTypes(hs.inbox.get(`${mrt.user}|MRTDEVICE`), mrt.curve25519), [0, 0]);
      const received = await mrt.sync();
      assert.deepEqual(received.rejected, []);
      assert.deepEqual(
        received.events.map((e) => [e.content.envelopes[0].body, e.sender_device, e.trust, e.address]),
        [
          ['first on the fallback key', 'WASMB', 'attested', wasmAddress],
          ['second on the fallback key', 'WASMB', 'attested', wasmAddress],
        ],
      );

      // The sync said: no one-time key left, the fallback key used. mrt publishes new ones.
      await mrt.flush();
      assert.equal(hs.otkCount(mrt.user, 'MRTDEVICE'), 50, 'mrt refilled its one-time keys');
      assert.deepEqual(hs.unusedFallback(mrt.user, 'MRTDEVICE'), [OTK], 'mrt published a new fallback key');
    });

    await step('room key: the new device gets the current session, no rotation', async () => {
      const wasmB = wasmDevices.get('WASMB');
      const outcome = await mrt.shareRoomKey(ROOM, [wasmUser]);
      assert.equal(outcome.rotated, false);
      assert.deepEqual(outcome.sent, [{ user_id: wasmUser, device_id: 'WASMB' }]);
      await mrt.flush();
      decryptedToDevice(await wasmB.sync(), 'm.room_key');
      const content = envelopes('for both wasm devices');
      const encrypted = await mrt.call('encrypt_room_event', { room: ROOM, type: EVENT_TYPE, content });
      for (const wasm of [wasmA, wasmB]) {
        const decrypted = await wasm.decryptRoomEvent(roomEvent(ROOM, mrt.user, encrypted.content, '$both'));
        assert.deepEqual(JSON.parse(decrypted.event).content, content, `${wasm.device} decrypts`);
      }
    });

    await step('msc4147: a vodozemac device that never queried mrt\'s keys reads its first message', async () => {
      const wasmC = await WasmDevice.create(hs, wasmWallet, 'WASMC');
      wasmDevices.set('WASMC', wasmC);
      await wasmC.flush();
      await mrt.sync({ changed: [wasmUser] });
      const content = envelopes('to every wasm device');
      const outcome = await mrt.encryptToDevice(wasmUser, content);
      assert.deepEqual(outcome.sent.map((d) => d.device_id).sort(), ['WASMA', 'WASMB', 'WASMC']);
      const tracked = [...(await wasmC.machine.trackedUsers())].map(String);
      assert.ok(!tracked.includes(mrt.user), 'WASMC does not track mrt');
      // Only the device keys mrt encloses in the Olm plaintext vouch for the sender here.
      for (const wasm of [wasmC, wasmA, wasmDevices.get('WASMB')]) {
        const [event] = decryptedToDevice(await wasm.sync(), EVENT_TYPE);
        assert.deepEqual(JSON.parse(event?.rawEvent ?? 'null')?.content, content, `${wasm.device} decrypts`);
        assert.equal(event.encryptionInfo.senderDevice?.toString(), 'MRTDEVICE');
      }
    });

    await step('msc4147: mrt takes a first message from a vodozemac device it never queried', async () => {
      const wasmD = await WasmDevice.create(hs, wasmWallet, 'WASMD');
      wasmDevices.set('WASMD', wasmD);
      await wasmD.flush(); // no device-list change reaches mrt
      await wasmD.machine.updateTrackedUsers([new UserId(mrt.user)]);
      await wasmD.flush();
      assert.equal(await wasmD.claimMissingSessions(mrt.user), true);
      await wasmD.sendToDevice(mrt.user, 'MRTDEVICE', envelopes('first from D'));
      // Matrix v1.15 `sender_device_keys`: vodozemac encloses its device keys as its keys/query
      // of its own user returned them, attestation included.
      const received = await mrt.sync();
      assert.deepEqual(received.rejected, []);
      assert.deepEqual(
        received.events.map((e) => [e.content.envelopes[0].body, e.sender_device, e.trust, e.address]),
        [['first from D', 'WASMD', 'attested', wasmAddress]],
      );
      // mrt still queries the sender's devices: the server's list is the authority.
      const { requests } = await mrt.call('outgoing_requests');
      assert.deepEqual(requests.filter((r) => r.type === 'keys_query').map((r) => Object.keys(r.body.device_keys)), [[wasmUser]]);
      await mrt.flush();
      assert.equal((await mrt.deviceInfo(wasmUser, 'WASMD'))?.trust, 'attested');
    });

    await step('restart: mrt reopens from its store, both directions still work', async () => {
      await mrt.call('restart');
      const fromWasm = envelopes('after the restart, from wasm');
      const event = await wasmA.encryptRoomEvent(ROOM, fromWasm, '$after-restart');
      const decrypted = await mrt.call('decrypt_room_event', { event });
      assert.deepEqual([decrypted.content, decrypted.trust, decrypted.address], [fromWasm, 'attested', wasmAddress]);
      assert.deepEqual(
        await mrt.call('decrypt_room_event', { event: { ...firstWasmEvent, event_id: '$replay-after-restart' } }),
        { reason: 'replayed' },
        'the replay record survives the restart',
      );
      assert.deepEqual((await mrt.sync({ toDevice: wasmToMrt })).rejected, [{ sender: wasmUser, reason: 'replayed' }]);

      const fromMrt = envelopes('after the restart, from mrt');
      const encrypted = await mrt.call('encrypt_room_event', { room: ROOM, type: EVENT_TYPE, content: fromMrt });
      const back = await wasmA.decryptRoomEvent(roomEvent(ROOM, mrt.user, encrypted.content, '$mrt-after-restart'));
      assert.deepEqual(JSON.parse(back.event).content, fromMrt);
      const olm = envelopes('olm after the restart');
      await mrt.encryptToDevice(wasmUser, olm);
      const [toA] = decryptedToDevice(await wasmA.sync(), EVENT_TYPE);
      assert.deepEqual(JSON.parse(toA?.rawEvent ?? 'null')?.content, olm);
    });

    await step('wedged: mrt restored from a backup repairs its Olm channel with vodozemac', async () => {
      await mrt.call('snapshot');
      // A round trip moves mrt's ratchet on (a new ratchet key of mrt's, which vodozemac
      // follows); then mrt loses that step.
      await wasmA.sendToDevice(mrt.user, 'MRTDEVICE', envelopes('before the restore'));
      assert.equal((await mrt.sync()).events.length, 1);
      await mrt.encryptToDevice(wasmUser, envelopes('before the restore'));
      for (const wasm of wasmDevices.values()) decryptedToDevice(await wasm.sync(), EVENT_TYPE);
      await mrt.call('restore');
      await wasmA.sendToDevice(mrt.user, 'MRTDEVICE', envelopes('on the lost ratchet'));
      const lost = await mrt.sync();
      assert.deepEqual(lost.rejected, [{ sender: wasmUser, reason: 'no_session' }]);
      // The repair: a new session on a claimed one-time key, opened with m.dummy.
      const otks = hs.otkCount(wasmUser, 'WASMA');
      await mrt.flush();
      assert.equal(hs.otkCount(wasmUser, 'WASMA'), otks - 1, 'mrt claimed a one-time key of WASMA');
      assert.deepEqual(olmTypes(hs.inbox.get(`${wasmUser}|WASMA`), wasmA.curve25519), [0]);
      assert.equal(decryptedToDevice(await wasmA.sync(), 'm.dummy').length, 1, 'vodozemac took the m.dummy');
      // vodozemac now talks on the new session.
      await wasmA.sendToDevice(mrt.user, 'MRTDEVICE', envelopes('after the repair'));
      const repaired = await mrt.sync();
      assert.deepEqual(repaired.rejected, []);
      assert.deepEqual(repaired.events.map((e) => [e.content.envelopes[0].body, e.sender_device, e.trust]), [
        ['after the repair', 'WASMA', 'attested'],
      ]);
    });

    for (const line of steps) console.log(line);
    console.log(`all ${steps.length} steps passed in ${Date.now() - started} ms`);
  } finally {
    await mrt.close().catch(() => {});
    for (const wasm of wasmDevices.values()) wasm.machine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const wasmDevices = new Map(); // device id -> WasmDevice

try {
  await main();
} catch (e) {
  for (const line of steps) console.error(line);
  console.error(`FAILED ${e.stack ?? e}`);
  process.exitCode = 1;
}
