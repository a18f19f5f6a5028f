// vodozemac 0.11.0 (matrix-sdk-crypto 0.19.1, inside @matrix-org/matrix-sdk-crypto-wasm 18.9.0) for the megolm_decrypt vectors.
// The wasm package exposes no raw Megolm API, only matrix-sdk-crypto's OlmMachine, so this
// plays the homeserver for OlmMachines (keys upload / query / claim, to-device delivery) with
// a libolm device (lib/megolm_olm.mjs) as the other end of the Olm channel:
//
//  - vodozemacSender(): an OlmMachine that shares a Megolm session with a libolm device (which
//    decrypts the Olm to-device message and reads the sharing-format session_key, as a client
//    receiving m.room_key does), encrypts room events with it, and exports it
//    (exportRoomKeys: export format at the session's first known index).
//  - vodozemacDecrypt(sessionKey, ciphertext): a fresh OlmMachine gets the session key
//    (1) through importExportedRoomKeys, as the `session_key` of a key-export entry, and
//    (2) through an Olm-encrypted m.room_key to-device event from a libolm device, then
//    decryptRoomEvent on an m.room.encrypted event carrying the ciphertext. Both routes are
//    tried for every key, whatever its version byte.
//
// matrix-sdk-crypto encrypts the plaintext {"type":T,"content":C,"room_id":R} (serde field
// order, C kept as the caller's JSON text) and on decryption parses it as JSON and returns the
// event re-serialised, so through this route vodozemac's answers are compared as JSON values
// (type, content and room_id), not as bytes; libolm and lib/megolm_ref.mjs compare the bytes.
import * as W from '@matrix-org/matrix-sdk-crypto-wasm';
import { Olm, olmDevice, initOlm } from './megolm_olm.mjs';
import { sessionIdOf } from './megolm_ref.mjs';

export const ROOM = '!mrt-vectors:example.org';
const SENDER = '@sender:example.org';
const RECEIVER = '@receiver:example.org';

let ready = null;
export function initVodozemac() {
  ready ??= Promise.all([W.initAsync(), initOlm()]).then(() => {
    // quiet: matrix-sdk-crypto logs every refused key and message at warn level
    new W.Tracing(W.LoggerLevel.Error).turnOn();
  });
  return ready;
}

// Answers the machine's outgoing requests the way a homeserver would; returns what was seen.
async function serve(machine, { devices = [], claims = {} } = {}) {
  const seen = { upload: null, toDevice: [] };
  for (let round = 0; round < 4; round++) {
    const reqs = await machine.outgoingRequests();
    if (reqs.length === 0) break;
    for (const r of reqs) {
      let response;
      if (r.type === W.RequestType.KeysUpload) {
        seen.upload = JSON.parse(r.body);
        response = { one_time_key_counts: { signed_curve25519: Object.keys(seen.upload.one_time_keys ?? {}).length } };
      } else if (r.type === W.RequestType.KeysQuery) {
        const wanted = Object.keys(JSON.parse(r.body).device_keys);
        const dk = {};
        for (const u of wanted) dk[u] = Object.fromEntries(devices.filter((d) => d.userId === u).map((d) => [d.deviceId, d.deviceKeys]));
        response = { device_keys: dk, failures: {} };
      } else if (r.type === W.RequestType.KeysClaim) {
        response = { one_time_keys: claims, failures: {} };
      } else if (r.type === W.RequestType.ToDevice) {
        seen.toDevice.push(JSON.parse(r.body));
        response = {};
      } else {
        throw new Error(`unexpected request type ${r.type}`);
      }
      await machine.markRequestAsSent(r.id, r.type, JSON.stringify(response));
    }
  }
  return seen;
}

// An OlmMachine with an outbound Megolm session for ROOM, shared with one libolm device.
export async function vodozemacSender() {
  await initVodozemac();
  const machine = await W.OlmMachine.initialize(new W.UserId(SENDER), new W.DeviceId('SENDERDEV'));
  const peer = olmDevice(RECEIVER, 'RECEIVERDEV');
  await serve(machine);
  await machine.updateTrackedUsers([new W.UserId(RECEIVER)]);
  await serve(machine, { devices: [peer] });
  const claim = await machine.getMissingSessions([new W.UserId(RECEIVER)]);
  if (!claim) throw new Error('no key claim for the peer device');
  await machine.markRequestAsSent(claim.id, claim.type, JSON.stringify({ one_time_keys: { [RECEIVER]: { RECEIVERDEV: peer.claimOneTimeKey() } }, failures: {} }));
  const settings = new W.EncryptionSettings();
  settings.sharingStrategy = W.CollectStrategy.allDevices();
  const toDevice = await machine.shareRoomKey(new W.RoomId(ROOM), [new W.UserId(RECEIVER)], settings);
  if (toDevice.length !== 1) throw new Error(`expected one to-device request, got ${toDevice.length}`);
  const content = JSON.parse(toDevice[0].body).messages[RECEIVER].RECEIVERDEV;
  await machine.markRequestAsSent(toDevice[0].id, toDevice[0].type, '{}');
  const olmMsg = content.ciphertext[peer.curve25519];
  const session = new Olm.Session();
  session.create_inbound(peer.account, olmMsg.body);
  const roomKey = JSON.parse(session.decrypt(olmMsg.type, olmMsg.body));
  session.free();
  peer.free();
  if (roomKey.type !== 'm.room_key' || roomKey.content.room_id !== ROOM) throw new Error('unexpected room key event');
  return {
    sharingKey: roomKey.content.session_key,
    sessionId: roomKey.content.session_id,
    async encrypt(type, contentText) {
      const c = JSON.parse(await machine.encryptRoomEvent(new W.RoomId(ROOM), type, contentText));
      if (c.session_id !== roomKey.content.session_id) throw new Error('the machine rotated its session');
      return c.ciphertext;
    },
    async exportedKey() {
      const keys = JSON.parse(await machine.exportRoomKeys(() => true));
      const mine = keys.filter((k) => k.session_id === roomKey.content.session_id);
      if (mine.length !== 1) throw new Error('session not found in the export');
      return mine[0].session_key;
    },
    close() {
      machine.free();
    },
  };
}

// The encrypted event as a client would get it from /sync.
function encryptedEvent(ciphertext, sessionId, sender) {
  return JSON.stringify({
    type: 'm.room.encrypted',
    event_id: '$megolm-vector:example.org',
    sender: sender.userId,
    origin_server_ts: 1732528800000,
    room_id: ROOM,
    content: {
      algorithm: 'm.megolm.v1.aes-sha2',
      ciphertext,
      device_id: sender.deviceId,
      sender_key: sender.curve25519,
      session_id: sessionId,
    },
  });
}

async function tryDecrypt(machine, ciphertext, sessionId, sender) {
  try {
    const d = await machine.decryptRoomEvent(encryptedEvent(ciphertext, sessionId, sender), new W.RoomId(ROOM), new W.DecryptionSettings(W.TrustRequirement.Untrusted));
    const ev = JSON.parse(d.event);
    return { ok: true, event: { type: ev.type, content: ev.content, room_id: ev.room_id } };
  } catch (e) {
    return { ok: false, stage: 'message', error: `${e.constructor?.name}: ${e.description ?? e.message} (code ${e.code})` };
  }
}

// Route 1: the key as the session_key of a key-export entry.
async function viaImport(sessionKey, ciphertext) {
  const sender = olmDevice(SENDER, 'SENDERDEV');
  const machine = await W.OlmMachine.initialize(new W.UserId(RECEIVER), new W.DeviceId('RECEIVERDEV'));
  try {
    const sessionId = sessionIdOf(sessionKey) ?? 'invalid';
    const entry = {
      algorithm: 'm.megolm.v1.aes-sha2',
      room_id: ROOM,
      sender_key: sender.curve25519,
      session_id: sessionId,
      session_key: sessionKey,
      sender_claimed_keys: { ed25519: sender.ed25519 },
      forwarding_curve25519_key_chain: [],
    };
    let imported = 0;
    let why = '';
    try {
      imported = (await machine.importExportedRoomKeys(JSON.stringify([entry]), () => {})).importedCount;
    } catch (e) {
      why = `: ${e.message ?? e}`;
    }
    if (imported !== 1) return { ok: false, stage: 'key', error: `importExportedRoomKeys imported ${imported}${why}` };
    return await tryDecrypt(machine, ciphertext, sessionId, sender);
  } finally {
    machine.free();
    sender.free();
  }
}

// Route 2: the key in an m.room_key event, Olm-encrypted by a libolm device that the machine
// has downloaded the device keys of.
async function viaRoomKey(sessionKey, ciphertext) {
  const sender = olmDevice(SENDER, 'SENDERDEV');
  const machine = await W.OlmMachine.initialize(new W.UserId(RECEIVER), new W.DeviceId('RECEIVERDEV'));
  try {
    const { upload } = await serve(machine);
    const myCurve = upload.device_keys.keys['curve25519:RECEIVERDEV'];
    const myEd = upload.device_keys.keys['ed25519:RECEIVERDEV'];
    const otk = Object.values(upload.one_time_keys)[0].key;
    await machine.updateTrackedUsers([new W.UserId(SENDER)]);
    await serve(machine, { devices: [sender] });
    const sessionId = sessionIdOf(sessionKey) ?? 'invalid';
    const plaintext = {
      sender: SENDER,
      sender_device: 'SENDERDEV',
      keys: { ed25519: sender.ed25519 },
      recipient: RECEIVER,
      recipient_keys: { ed25519: myEd },
      type: 'm.room_key',
      content: { algorithm: 'm.megolm.v1.aes-sha2', room_id: ROOM, session_id: sessionId, session_key: sessionKey },
    };
    const olm = new Olm.Session();
    olm.create_outbound(sender.account, myCurve, otk);
    const m = olm.encrypt(JSON.stringify(plaintext));
    olm.free();
    const toDevice = [{ sender: SENDER, type: 'm.room.encrypted', content: { algorithm: 'm.olm.v1.curve25519-aes-sha2', sender_key: sender.curve25519, ciphertext: { [myCurve]: m } } }];
    await machine.receiveSyncChanges(JSON.stringify(toDevice), new W.DeviceLists(), new Map([['signed_curve25519', 0]]), new Set(), new W.DecryptionSettings(W.TrustRequirement.Untrusted));
    const counts = await machine.roomKeyCounts();
    if (counts.total !== 1) return { ok: false, stage: 'key', error: `m.room_key not stored (${counts.total} keys)` };
    return await tryDecrypt(machine, ciphertext, sessionId, sender);
  } finally {
    machine.free();
    sender.free();
  }
}

// { ok: true, event: {type, content, room_id}, route } or { ok: false, stage, error }.
// A route that accepts the key decides; when both refuse it, the stage is 'key'.
export async function vodozemacDecrypt(sessionKey, ciphertext) {
  await initVodozemac();
  const results = { import: await viaImport(sessionKey, ciphertext), room_key: await viaRoomKey(sessionKey, ciphertext) };
  const accepted = Object.entries(results).filter(([, r]) => r.ok || r.stage !== 'key');
  if (accepted.length > 1) throw new Error(`vodozemac accepted one session key both as an export and as a sharing key`);
  if (accepted.length === 1) return { ...accepted[0][1], route: accepted[0][0] };
  return { ok: false, stage: 'key', error: `${results.import.error}; ${results.room_key.error}` };
}
