// An independent peer: `mrt node` and a JavaScript Raiden transport peer written from
// PROTOCOL.md alone (tests/interop/raiden_js_peer.mjs: ethers, @noble, matrix-sdk-crypto-wasm)
// exchange signed envelopes through the dev homeserver (`mrt serve`), both directions, on the
// room carrier (DM rooms, Megolm), for both orders of the two addresses (the lower address
// creates the DM room).
//
//   node tests/interop/node_js_peer.mjs --mrt build/cli/mrt [--order js-lower|js-higher|both]
//                                       [--self] [--verbose]
//
// --self runs two JS peers against each other instead of an `mrt node` (a self-test of the JS
// peer and the dev homeserver).
//
// Checked for each order (each step fails the run with its name):
//   first contact: mrt -> js and js -> mrt arrive with the right id, body, sender and ts, and
//     each side reports the other's ack (mrt prints delivered, js sees the ack)
//   room: the DM room becomes ready (created by the lower address, joined by the higher one,
//     judged valid by the JS peer on its complete state)
//   megolm: messages both ways until each direction has carried at least one envelope over the
//     room: js decrypts mrt's Megolm events, mrt reports carrier "room" for js's messages, and
//     acks come back over the room
//   replay: a delivered envelope of js's, sent again identical (room, then to_device), is acked
//     again over that carrier and never delivered twice
//   resend: js withholds the ack of one message; mrt resends the identical signed envelope,
//     js acks the resend, mrt prints delivered once and js delivered it once
//   burst: 25 messages each way (batched by both), each delivered once and acked
//   large: envelopes of exactly 32,768 bytes (PROTOCOL §4's limit) both ways
//   unattested device: a second device of js's address whose keys carry no attestation gets no
//     Olm message and no room key from mrt (it cannot read mrt's room messages), and envelopes
//     it sends (signed with the right key) over to_device and the room are never delivered;
//     mrt counts them as unattested_device
//   hostile rooms: mrt does not stay in a room js creates and invites it to when js is the
//     higher address (only the lower address creates), nor in one whose network.raiden.dm lists
//     the addresses the wrong way round; the valid room keeps carrying the traffic
//   restart: js sends while mrt is stopped; mrt comes back as the same device, receives it once,
//     and both directions go on over the same room
//   plaintexts: mrt's Olm envelope plaintexts carry type, content, sender, recipient,
//     recipient_keys, keys and org.matrix.msc4147.device_keys (attested, the sending device's);
//     the DM room is invite-only with shared history (preset private_chat)
//   exactly once: no (sender, nonce) reached either application twice
//   stop: mrt answers {"op":"stop"} with stopped and exits 0
//
// Exit status 0 on success, 1 on failure, 2 on bad usage.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import { Wallet } from 'ethers';

import { canonicalJson, MAX_ENVELOPE_BYTES, RaidenJsPeer, signEnvelope } from './raiden_js_peer.mjs';
import { startServer } from './mrt_serve.mjs';

const { values: args } = parseArgs({
  options: {
    mrt: { type: 'string' },
    order: { type: 'string', default: 'both' },
    self: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});
if (!args.mrt || !['js-lower', 'js-higher', 'both'].includes(args.order)) {
  console.error('usage: node node_js_peer.mjs --mrt PATH_TO_MRT [--order js-lower|js-higher|both] [--self] [--verbose]');
  process.exit(2);
}

const SERVER_NAME = 'localhost';
const WAIT_MS = 30_000;
const started = Date.now();
const stamp = () => `${((Date.now() - started) / 1000).toFixed(2)}s`;
const log = (...what) => args.verbose && console.error(stamp(), ...what);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, check, ms = WAIT_MS) {
  const stop = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > stop) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

// ---------------------------------------------------------------------------------------------
// The two kinds of "other side": an `mrt node` process, or (with --self) a second JS peer. Both
// record events in the JSON-lines shape of `mrt node`.

class MrtNodeSide {
  constructor(dir, wallet, baseUrl) {
    this.kind = 'mrt';
    this.events = []; // every event of every run of the process, in order
    this.stderr = [];
    mkdirSync(dir, { recursive: true });
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, `${wallet.privateKey}\n`, { mode: 0o600 });
    chmodSync(keyFile, 0o600);
    this.argv = ['node', '--key-file', keyFile, '--homeserver', baseUrl, '--data', join(dir, 'data'),
      '--server-name', SERVER_NAME, '--carrier', 'room', '--no-fsync'];
    this.refs = 0;
    this.spawn();
  }

  spawn() {
    log('spawn', args.mrt, this.argv.join(' '));
    this.firstEvent = this.events.length;
    const child = spawn(args.mrt, this.argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stderr.on('data', (d) => {
      this.stderr.push(d.toString());
      if (args.verbose) process.stderr.write(`${stamp()} mrt stderr: ${d}`);
    });
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    createInterface({ input: child.stdout }).on('line', (line) => {
      log('mrt >', line.length > 300 ? `${line.slice(0, 300)}…` : line);
      let event;
      try {
        event = JSON.parse(line);
      } catch {
        event = { event: 'unparsable', line };
      }
      this.events.push(event);
    });
  }

  async start() {
    const startedEvent = await until('mrt node to print started', () => {
      if (this.child.exitCode !== null) throw new Error(`mrt node exited with ${this.child.exitCode}: ${this.stderr.join('')}`);
      return this.events.slice(this.firstEvent).find((e) => e.event === 'started');
    });
    this.address = startedEvent.address;
    this.userId = startedEvent.user_id;
    this.deviceId = startedEvent.device_id;
    return startedEvent;
  }

  async restart() {
    this.spawn();
    return this.start();
  }

  write(op) {
    log('mrt <', JSON.stringify(op));
    this.child.stdin.write(`${JSON.stringify(op)}\n`);
  }

  async send(to, body) {
    const ref = `ref-${++this.refs}`;
    this.write({ op: 'send', to, body, ref });
    const sent = await until(`mrt to print sent for ${ref}`, () => this.events.find((e) => e.event === 'sent' && e.ref === ref));
    return sent.id;
  }

  async stats() {
    const before = this.events.filter((e) => e.event === 'stats').length;
    this.write({ op: 'stats' });
    return until('mrt stats', () => this.events.filter((e) => e.event === 'stats')[before]);
  }

  async stop() {
    if (this.child.exitCode !== null) return this.exited;
    this.write({ op: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }

  kill() {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

class JsSide {
  constructor(wallet, baseUrl) {
    this.kind = 'js';
    this.events = [];
    this.peer = new RaidenJsPeer({ homeserver: baseUrl, serverName: SERVER_NAME, wallet, name: 'other' });
    this.peer.on('log', (l) => log(l));
    this.peer.on('message', (m) => this.events.push({ event: 'message', id: m.id, from: m.from, body: m.body, ts: m.ts, carrier: m.carrier }));
    this.peer.on('rejected', (r) => this.events.push({ event: 'rejected', reason: r.reason, from: r.from, carrier: r.carrier }));
    this.peer.on('delivered', (d) => this.events.push({ event: 'delivered', id: d.id, to: d.to }));
    this.peer.on('failed', (f) => this.events.push({ event: 'failed', ...f }));
  }

  async start() {
    const info = await this.peer.start();
    Object.assign(this, info);
    return info;
  }

  send(to, body) {
    return this.peer.send(to, body);
  }

  async stats() {
    return { event: 'stats', ...structuredClone(this.peer.stats) };
  }

  async stop() {
    await this.peer.stop();
    return { code: 0, signal: null };
  }

  kill() {
    this.peer.stop().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------

function walletsInOrder(jsLower) {
  for (;;) {
    const js = Wallet.createRandom();
    const other = Wallet.createRandom();
    if ((js.address.toLowerCase() < other.address.toLowerCase()) === jsLower) return { js, other };
  }
}

async function runOrder(order, baseUrl, dir) {
  const steps = [];
  const step = async (name, body) => {
    const t0 = Date.now();
    try {
      await body();
    } catch (e) {
      e.message = `[${order}] ${name}: ${e.message}`;
      throw e;
    }
    steps.push(`ok [${order}] ${name} (${Date.now() - t0} ms)`);
    log(steps.at(-1));
  };
  const { js: jsWallet, other: otherWallet } = walletsInOrder(order === 'js-lower');
  const jsAddress = jsWallet.address.toLowerCase();
  const otherAddress = otherWallet.address.toLowerCase();
  const other = args.self ? new JsSide(otherWallet, baseUrl) : new MrtNodeSide(join(dir, order), otherWallet, baseUrl);
  const name = other.kind;
  const js = new RaidenJsPeer({ homeserver: baseUrl, serverName: SERVER_NAME, wallet: jsWallet, name: 'js' });
  js.on('log', (l) => log(l));
  const jsMessages = [];
  const jsDelivered = [];
  const jsAcks = [];
  const jsRejected = [];
  js.on('message', (m) => jsMessages.push(m));
  js.on('delivered', (d) => jsDelivered.push(d));
  js.on('ack', (a) => jsAcks.push({ ...a, at: Date.now() }));
  js.on('rejected', (r) => jsRejected.push(r));
  const olmPlaintexts = [];
  const megolmPlaintexts = [];
  js.on('olm-plaintext', (o) => olmPlaintexts.push(o));
  js.on('megolm-plaintext', (m) => megolmPlaintexts.push(m));
  const messagesAt = (id) => other.events.filter((e) => e.event === 'message' && e.id === id);
  const sentByJs = new Map(); // nonce -> {body, ts}
  const jsSend = async (body) => {
    const id = await js.send(otherAddress, body);
    sentByJs.set(id, { body, ts: js.outbox.get(id).envelope.ts });
    return id;
  };

  // One message each way; resolves with what each side reported.
  const exchange = async (label) => {
    const bodyOut = `${label}: ${name} to js \u00e9\u{1F98A} "quoted"\n\u0001`;
    const idOut = await other.send(jsAddress, bodyOut);
    const bodyIn = `${label}: js to ${name} \u00e9\u{1F98A} "quoted"\n\u0001`;
    const idIn = await jsSend(bodyIn);
    const atJs = await until(`js to receive ${idOut}`, () => jsMessages.find((m) => m.id === idOut));
    assert.equal(atJs.from, otherAddress, 'js: sender of the message');
    assert.equal(atJs.body, bodyOut, 'js: body of the message');
    const atOther = await until(`${name} to print message ${idIn}`, () => messagesAt(idIn)[0]);
    assert.equal(atOther.from, jsAddress, `${name}: from`);
    assert.equal(atOther.body, bodyIn, `${name}: body`);
    assert.equal(atOther.ts, sentByJs.get(idIn).ts, `${name}: ts`);
    await until(`${name} to print delivered for ${idOut}`, () => other.events.find((e) => e.event === 'delivered' && e.id === idOut));
    const deliveredEvent = other.events.find((e) => e.event === 'delivered' && e.id === idOut);
    assert.equal(deliveredEvent.to, jsAddress, `${name}: delivered.to`);
    await until(`js to see the ack of ${idIn}`, () => jsDelivered.find((d) => d.id === idIn));
    return { atJs, atOther, idOut, idIn };
  };

  try {
    await step(`start ${name} and js (js is the ${order === 'js-lower' ? 'lower' : 'higher'} address)`, async () => {
      const info = await other.start();
      assert.equal(info.address, otherAddress, `${name} address`);
      assert.equal(info.userId ?? info.user_id, `@${otherAddress}:${SERVER_NAME}`, `${name} user id`);
      await js.start();
    });

    await step('first contact: one message each way, with acks', async () => {
      const { atJs, atOther } = await exchange('first');
      log('first contact carriers: at js', atJs.carrier, `at ${name}`, atOther.carrier);
    });

    await step('the DM room becomes ready (lower creates, higher joins)', async () => {
      const room = await until('a ready DM room on the js side', () => js.readyRoom(otherAddress));
      const record = js.rooms.get(room.roomId);
      assert.equal(record.valid, true);
      const creatorIsJs = order === 'js-lower';
      const created = [...js.rooms.values()].filter((r) => r.partner === otherAddress);
      log('rooms seen by js:', created.map((r) => `${r.roomId} valid=${r.valid} ${r.problem ?? ''}`).join(', '));
      assert.ok(created.every((r) => r.valid !== false), `js judged a room invalid: ${created.map((r) => r.problem).join('; ')}`);
      // preset private_chat (PROTOCOL §5's createRoom body): invite-only, shared history.
      const state = await js.api('GET', `/rooms/${encodeURIComponent(room.roomId)}/state`);
      const content = (type) => state.find((e) => e.type === type && e.state_key === '')?.content;
      assert.equal(content('m.room.join_rules')?.join_rule, 'invite', 'join rule of the DM room');
      assert.equal(content('m.room.history_visibility')?.history_visibility, 'shared', 'history visibility of the DM room');
      assert.equal(content('m.room.create') && state.find((e) => e.type === 'm.room.create').sender,
        `@${creatorIsJs ? jsAddress : otherAddress}:${SERVER_NAME}`, 'creator');
      log('room', room.roomId, 'created by', creatorIsJs ? 'js' : name);
    });

    await step('megolm: envelopes over the room both ways, acks over the room', async () => {
      let round = 0;
      const roomAtJs = () => jsMessages.some((m) => m.carrier === 'room' && m.from === otherAddress);
      const roomAtOther = () => other.events.some((e) => e.event === 'message' && e.from === jsAddress && e.carrier === 'room');
      while (!(roomAtJs() && roomAtOther() && js.stats.acksReceived.room > 0)) {
        if (++round > 15) {
          throw new Error(`after ${round - 1} rounds: at js room=${roomAtJs()}, at ${name} room=${roomAtOther()}, `
            + `acks over room at js=${js.stats.acksReceived.room}; carriers at ${name}: `
            + other.events.filter((e) => e.event === 'message').map((e) => e.carrier).join(','));
        }
        await exchange(`round ${round}`);
      }
      assert.ok(js.stats.megolmDecrypted > 0, 'js decrypted Megolm events');
      log(`room traffic after ${round} round(s); js stats`, JSON.stringify(js.stats));
    });

    await step(`replay: a delivered envelope sent again is acked again, not delivered twice`, async () => {
      const roomDelivered = [...sentByJs.keys()].filter((id) => messagesAt(id).some((e) => e.carrier === 'room'));
      assert.ok(roomDelivered.length > 0, 'a js message went over the room');
      const id = roomDelivered[0];
      for (const carrier of ['room', 'to_device']) {
        const since = Date.now();
        await js.replay(id, carrier);
        await until(`${name} to ack the replay over ${carrier}`,
          () => jsAcks.find((a) => a.at >= since && a.nonces.includes(id) && a.carrier === carrier), 15_000);
        await sleep(300);
        assert.equal(messagesAt(id).length, 1, `${name} delivered ${id} once (replayed over ${carrier})`);
      }
      const rejectedReplays = other.events.filter((e) => e.event === 'rejected' && e.reason === 'replay');
      log(`${name} rejections after the replays:`, JSON.stringify(rejectedReplays));
    });

    await step(`resend: js withholds its first ack; ${name} resends the identical envelope until acked`, async () => {
      const body = `resend me (${order})`;
      let held = null;
      js.withholdAck = (e) => {
        if (e.body !== body || held) return false;
        held = e;
        return true;
      };
      try {
        const t0 = Date.now();
        const id = await other.send(jsAddress, body);
        await until(`js to receive ${id}`, () => jsMessages.find((m) => m.id === id));
        const resent = await until(`${name} to resend ${id}`, () => jsRejected.find((r) => r.reason === 'replay' && r.nonce === id), 45_000);
        assert.equal(canonicalJson(resent.envelope), canonicalJson(held), 'the resend is the identical signed envelope');
        await until(`${name} to print delivered for ${id}`, () => other.events.find((e) => e.event === 'delivered' && e.id === id));
        await sleep(200);
        assert.equal(other.events.filter((e) => e.event === 'delivered' && e.id === id).length, 1, `${name} reports delivered once`);
        assert.equal(jsMessages.filter((m) => m.id === id).length, 1, 'js delivered it once');
        log(`${name} resent after ${Date.now() - t0} ms over ${resent.carrier}`);
      } finally {
        js.withholdAck = undefined;
      }
    });

    await step('burst: 25 messages each way, batched, each delivered once and acked', async () => {
      const n = 25;
      const outIds = await Promise.all(Array.from({ length: n }, (_, i) => other.send(jsAddress, `burst ${i} from ${name}`)));
      const inIds = [];
      for (let i = 0; i < n; i++) inIds.push(await jsSend(`burst ${i} from js`));
      await until('js to receive the burst', () => outIds.every((id) => jsMessages.some((m) => m.id === id)));
      await until(`${name} to receive the burst`, () => inIds.every((id) => messagesAt(id).length > 0));
      for (let i = 0; i < n; i++) {
        assert.equal(jsMessages.find((m) => m.id === outIds[i]).body, `burst ${i} from ${name}`);
        assert.equal(messagesAt(inIds[i])[0].body, `burst ${i} from js`);
      }
      await until(`${name} to print delivered for the burst`, () => outIds.every((id) => other.events.some((e) => e.event === 'delivered' && e.id === id)));
      await until('js to see the burst acked', () => inIds.every((id) => jsDelivered.some((d) => d.id === id)));
      const order = (ids, list) => ids.map((id) => list.findIndex((x) => x.id === id));
      const inOrder = (idx) => idx.every((v, i) => i === 0 || v > idx[i - 1]);
      log('burst arrival in send order: at js', inOrder(order(outIds, jsMessages)),
        `at ${name}`, inOrder(order(inIds, other.events.filter((e) => e.event === 'message'))));
    });

    await step('large: envelopes of exactly 32,768 bytes both ways (multi-byte UTF-8 body)', async () => {
      // Every unicast message envelope has the same size apart from its body: measure it empty.
      const probe = await signEnvelope(jsWallet, { kind: 'message', sender: jsAddress, recipient: otherAddress, nonce: '0'.repeat(32), ts: Date.now(), body: '' });
      const room = MAX_ENVELOPE_BYTES - Buffer.byteLength(canonicalJson(probe));
      const large = (tag) => {
        const head = `${tag} \u00e9\u{1F98A} `; // 1 + 2 + 4 + 1 bytes after the tag
        return head + 'x'.repeat(room - Buffer.byteLength(head));
      };
      const bodyOut = large(name);
      const bodyIn = large('js');
      const idOut = await other.send(jsAddress, bodyOut);
      const idIn = await jsSend(bodyIn);
      assert.equal(Buffer.byteLength(canonicalJson(js.outbox.get(idIn).envelope)), MAX_ENVELOPE_BYTES);
      const atJs = await until('js to receive the large envelope', () => jsMessages.find((m) => m.id === idOut));
      assert.equal(atJs.body, bodyOut);
      assert.equal(Buffer.byteLength(canonicalJson(atJs.envelope)), MAX_ENVELOPE_BYTES);
      const atOther = await until(`${name} to receive the large envelope`, () => messagesAt(idIn)[0]);
      assert.equal(atOther.body, bodyIn);
      await until(`${name} to print delivered for the large envelope`, () => other.events.find((e) => e.event === 'delivered' && e.id === idOut));
      await until('js to see the large envelope acked', () => jsDelivered.find((d) => d.id === idIn));
    });

    if (args.self) {
      await step('replay the other way (self-test): js acks a replay and does not deliver it twice', async () => {
        const peer = other.peer;
        const [id] = [...peer.outbox.keys()];
        const since = Date.now();
        const acks = [];
        peer.on('ack', (a) => acks.push({ ...a, at: Date.now() }));
        await peer.replay(id, 'room');
        await until('js to ack the replay', () => acks.find((a) => a.nonces.includes(id)), 15_000);
        assert.equal(jsMessages.filter((m) => m.id === id).length, 1);
        assert.ok(since > 0);
      });
    }

    await step(`hostile rooms: ${name} does not stay in a DM room that breaks PROTOCOL §5`, async () => {
      const otherUser = `@${otherAddress}:${SERVER_NAME}`;
      js.ignoreRoom = (roomId, state) => state.some((e) => e.type === 'test.hostile');
      const lowerIsJs = order === 'js-lower';
      const [lower, higher] = lowerIsJs ? [jsAddress, otherAddress] : [otherAddress, jsAddress];
      // js lower: network.raiden.dm lists the addresses the wrong way round; js higher: the room
      // is right in every state event but created by the higher address.
      const addresses = lowerIsJs ? [higher, lower] : [lower, higher];
      const { room_id: roomId } = await js.api('POST', '/createRoom', {
        preset: 'private_chat',
        is_direct: true,
        initial_state: [
          { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2', rotation_period_ms: 604800000, rotation_period_msgs: 100 } },
          { type: 'network.raiden.dm', state_key: '', content: { addresses } },
          { type: 'test.hostile', state_key: '', content: {} },
        ],
      });
      await js.api('POST', `/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: otherUser });
      // Refused (leave) at once, or left after a join, or never answered (invite) within 5 s.
      const membershipNow = async () => (await js.api('GET', `/rooms/${encodeURIComponent(roomId)}/members`))
        .chunk.find((e) => e.state_key === otherUser)?.content?.membership;
      const stop = Date.now() + 5000;
      let membership = await membershipNow();
      while (membership !== 'leave' && Date.now() < stop) {
        await sleep(200);
        membership = await membershipNow();
      }
      log(`${name}'s membership in the hostile room ${roomId} (${lowerIsJs ? 'addresses swapped' : 'created by the higher address'}):`, membership);
      assert.notEqual(membership, 'join', `${name} stays joined to a room ${lowerIsJs ? 'whose network.raiden.dm is wrong' : 'created by the higher address'}`);
      // The valid room goes on carrying the traffic.
      const good = js.readyRoom(otherAddress).roomId;
      const { atJs, atOther } = await exchange('after the hostile room');
      assert.equal(atJs.room, good, `${name} sent in the valid DM room`);
      assert.equal(atOther.carrier, 'room');
    });

    if (other.kind === 'mrt') {
      await step('restart: js sends while mrt is down; mrt restarts as the same device and gets it once', async () => {
        const deviceBefore = other.deviceId;
        const stopped = await other.stop();
        assert.deepEqual(stopped, { code: 0, signal: null }, 'mrt exit on stop');
        const whileDown = await jsSend('sent while mrt was down');
        await sleep(300);
        const info = await other.restart();
        assert.equal(info.device_id, deviceBefore, 'a restart is the same device (PROTOCOL §3)');
        assert.equal(info.address, otherAddress);
        const atOther = await until('mrt to receive the message sent while it was down', () => messagesAt(whileDown)[0]);
        assert.equal(atOther.body, 'sent while mrt was down');
        await until('js to see it acked', () => jsDelivered.find((d) => d.id === whileDown));
        const { atJs, atOther: after } = await exchange('after the restart');
        assert.equal(after.carrier, 'room', 'mrt got js\'s message over the room after its restart');
        assert.equal(atJs.carrier, 'room', 'mrt sent over the room after its restart');
        log('after the restart: js message came over', atOther.carrier);
      });
    }

    await step(`unattested device: a second js device without attestation gets nothing from ${name}, and what it sends is refused`, async () => {
      // Same wallet, same user id, a new Matrix device whose keys carry no attestation.
      const rogue = new RaidenJsPeer({ homeserver: js.homeserver, serverName: SERVER_NAME, wallet: jsWallet, name: 'unattested', attest: false, carrier: 'to_device' });
      rogue.on('log', (l) => log(l));
      const rogueMessages = [];
      const rogueOlm = [];
      rogue.on('message', (m) => rogueMessages.push(m));
      rogue.on('olm-plaintext', (o) => rogueOlm.push(o));
      try {
        await rogue.start();
        await sleep(1000); // the device list change reaches the other side through its sync
        // The attested device still gets everything, the unattested one nothing.
        await exchange('with an unattested device present');
        await exchange('with an unattested device present, again');
        await sleep(500);
        const otherUser = `@${otherAddress}:${SERVER_NAME}`;
        assert.deepEqual(rogueOlm.filter((o) => o.sender === otherUser).map((o) => o.type), [], `no Olm message (no room key) from ${name} to the unattested device`);
        assert.equal(rogue.stats.megolmDecrypted, 0, `the unattested device cannot read ${name}'s room messages`);
        assert.deepEqual(rogueMessages, []);
        // Envelopes signed by the right key but sent from the unattested device: rule 7.
        const before = other.events.length;
        const statsBefore = await other.stats();
        const idOlm = await rogue.send(otherAddress, 'from the unattested device over to_device');
        await until('the unattested device to send', () => rogue.outbox.get(idOlm).attempts > 0 && !rogue.inFlight.size, 10_000);
        // The rogue device's user is in the DM room: it judged the room from its first sync.
        await until('the unattested device to see the DM room', () => rogue.readyRoom(otherAddress));
        const idRoom = await rogue.send(otherAddress, 'from the unattested device over the room');
        rogue.outbox.get(idRoom).next = Number.MAX_SAFE_INTEGER; // sent below, over the room only
        await rogue.replay(idRoom, 'room');
        await sleep(3000);
        const after = other.events.slice(before);
        assert.deepEqual(after.filter((e) => e.event === 'message' && [idOlm, idRoom].includes(e.id)), [], `${name} delivered nothing from the unattested device`);
        const statsAfter = await other.stats();
        const unattested = (st) => st.rejected?.unattested_device ?? 0;
        log(`${name} after the unattested device's envelopes: rejected events`, JSON.stringify(after.filter((e) => e.event === 'rejected')),
          'unattested_device count', unattested(statsBefore), '->', unattested(statsAfter));
        assert.ok(unattested(statsAfter) > unattested(statsBefore) || after.some((e) => e.event === 'rejected' && e.reason === 'unattested_device'),
          `${name} counted the unattested device's envelopes as unattested_device`);
      } finally {
        await rogue.stop();
      }
    });

    await step(`plaintexts: ${name}'s Olm envelope plaintexts carry PROTOCOL §5's fields and attested device keys`, async () => {
      const otherUser = `@${otherAddress}:${SERVER_NAME}`;
      const olm = olmPlaintexts.filter((o) => o.sender === otherUser);
      assert.ok(olm.some((o) => o.type === 'network.raiden.envelopes'), `js decrypted Olm envelopes from ${name}`);
      assert.ok(olm.some((o) => o.type === 'm.room_key'), `js got ${name}'s room key over Olm`);
      // matrix-sdk-crypto hands m.room_key plaintexts back reduced to {type, sender, content}:
      // only the envelope plaintexts show every field the sender wrote.
      for (const o of olm.filter((x) => x.type === 'network.raiden.envelopes')) {
        for (const field of ['type', 'content', 'sender', 'recipient', 'recipient_keys', 'keys']) {
          assert.ok(o.fields.includes(field), `Olm ${o.type} plaintext has ${field} (fields: ${o.fields})`);
        }
        // mrt puts its device keys, attestation included, in every Olm plaintext it sends.
        if (other.kind === 'mrt') assert.ok(o.fields.includes('org.matrix.msc4147.device_keys'), `Olm ${o.type} plaintext has org.matrix.msc4147.device_keys (fields: ${o.fields})`);
        if (o.enclosed) {
          assert.equal(o.enclosed.problem, undefined, `enclosed device keys in Olm ${o.type}: ${o.enclosed.problem}`);
          assert.equal(o.enclosed.address, otherAddress);
          assert.equal(o.enclosed.curve25519, o.senderCurve25519, 'enclosed keys are the sending device\'s');
        }
      }
      const megolm = megolmPlaintexts.filter((m) => m.sender === otherUser);
      assert.ok(megolm.length > 0, `js decrypted Megolm events from ${name}`);
      for (const m of megolm) {
        // (matrix-sdk-crypto checks the plaintext's room_id and returns it merged with the outer
        // event's fields, so the plaintext's own field list is not visible here.)
        assert.equal(m.type, 'network.raiden.envelopes');
        assert.equal(m.plainRoomId, m.room, 'Megolm plaintext room_id');
      }
      log(`${name} Olm plaintexts: ${olm.length} (${[...new Set(olm.map((o) => `${o.type} [${o.fields}]`))].join('; ')}), Megolm: ${megolm.length}`);
    });

    await step('exactly once: no (sender, nonce) reached either application twice', async () => {
      const atOther = other.events.filter((e) => e.event === 'message').map((e) => `${e.from}|${e.id}`);
      assert.equal(new Set(atOther).size, atOther.length, `${name} delivered something twice`);
      const atJs = jsMessages.map((m) => `${m.from}|${m.id}`);
      assert.equal(new Set(atJs).size, atJs.length, 'js delivered something twice');
      for (const id of sentByJs.keys()) assert.equal(messagesAt(id).length, 1, `${name} got ${id} once`);
      const unexpected = jsRejected.filter((r) => r.reason !== 'replay');
      log('js rejections:', JSON.stringify(jsRejected));
      assert.deepEqual(unexpected.map((r) => `${r.reason} ${r.detail ?? ''}`), [], 'js rejected nothing but replays');
      // Rejections that mean the two implementations disagree on the envelope format (an unknown
      // device before its keys were queried, unattested_device, is a legitimate drop).
      const disagreements = other.events.filter((e) => e.event === 'rejected'
        && ['malformed', 'too_large', 'bad_signature', 'wrong_recipient', 'wrong_topic', 'expired'].includes(e.reason));
      assert.deepEqual(disagreements, [], `${name} rejected envelopes of js`);
      const failures = other.events.filter((e) => ['failed', 'error', 'unparsable'].includes(e.event));
      assert.deepEqual(failures, [], `${name} reported no failure or error`);
      const stats = await other.stats();
      log(`${name} stats:`, JSON.stringify(stats));
    });

    await step(`stop: ${name} stops cleanly`, async () => {
      const result = await other.stop();
      assert.deepEqual(result, { code: 0, signal: null }, `${name} exit`);
      if (other.kind === 'mrt') assert.ok(other.events.some((e) => e.event === 'stopped'), 'mrt printed stopped');
    });
    const tally = (list) => Object.entries(list.reduce((t, c) => ({ ...t, [c]: (t[c] ?? 0) + 1 }), {}))
      .map(([c, k]) => `${c} ${k}`).join(', ');
    steps.push(`   [${order}] messages by carrier: ${name} -> js: ${tally(jsMessages.map((m) => m.carrier))}; `
      + `js -> ${name}: ${tally(other.events.filter((e) => e.event === 'message').map((e) => e.carrier))}`);
    return steps;
  } catch (e) {
    e.steps = steps;
    if (other.kind === 'mrt') e.otherLog = other.stderr.join('').split('\n').slice(-30).join('\n');
    e.otherEvents = other.events.slice(-30);
    throw e;
  } finally {
    await js.stop().catch(() => {});
    other.kill();
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'mrt-node-js-peer-'));
  const server = startServer(args.mrt, join(dir, 'server'), { serverName: SERVER_NAME });
  const allSteps = [];
  try {
    const baseUrl = await server.ready;
    log('homeserver', baseUrl);
    const orders = args.order === 'both' ? ['js-lower', 'js-higher'] : [args.order];
    for (const order of orders) allSteps.push(...(await runOrder(order, baseUrl, dir)));
    for (const line of allSteps) console.log(line);
    console.log(`all ${allSteps.filter((l) => l.startsWith('ok')).length} steps passed in ${Date.now() - started} ms`
      + (args.self ? ' (self-test: two JS peers)' : ''));
  } catch (e) {
    for (const line of [...allSteps, ...(e.steps ?? [])]) console.error(line);
    console.error(`FAILED ${e.stack ?? e}`);
    if (e.otherEvents) console.error('last events of the other side:\n' + e.otherEvents.map((x) => JSON.stringify(x).slice(0, 400)).join('\n'));
    if (e.otherLog) console.error('mrt node stderr (tail):\n' + e.otherLog);
    console.error('homeserver stderr (tail):\n' + server.tail(20));
    process.exitCode = 1;
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(process.exitCode ?? 0);
