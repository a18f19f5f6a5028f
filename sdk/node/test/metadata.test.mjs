// Raiden's capabilities and address metadata, and the log hook, from Node.js (over `mrt serve`).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { mrt, onSynapse, orderedKeys, withServer } from './homeserver.mjs';

function until(condition, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = () => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error('the condition never held'));
      else setTimeout(poll, 50);
    };
    poll();
  });
}

test('capabilities are published at start and read by a peer', () => withServer(async (server) => {
  const [ka, kb] = orderedKeys();
  const a = await server.started(ka, 'a');
  const b = await server.started(kb, 'b', { capabilities: { Receive: true, Mediate: false, fee: 5 } });
  assert.deepEqual(await a.capabilitiesOf(b.address), { Receive: '1', Mediate: '0', fee: '5' });
  await b.setCapabilities({ Mediate: true, k: ['x', 'y'] });
  assert.deepEqual(await a.capabilitiesOf(b.address), { Mediate: '1', k: ['x', 'y'] });
}));

test("a peer's metadata lets the first message go without a look-up", () => withServer(async (server) => {
  const [ka, kb] = orderedKeys();
  const a = await server.started(ka, 'a');
  const b = await server.started(kb, 'b');
  const metadata = b.metadata();
  assert.equal(metadata.user_id, b.userId);
  assert.equal(metadata.capabilities, 'mxc://');
  a.addMetadata(b.address, metadata);
  assert.equal((await a.sendAndWait(b.address, 'no look-up')).type, 'delivered');
  assert.equal(a.stats().id_lookups, 0);
}));

test('bad metadata and capabilities fail with the node\'s reason', () => withServer(async (server) => {
  const [ka, kb] = orderedKeys();
  const a = await server.started(ka, 'a');
  const b = await server.started(kb, 'b');
  const forged = { ...b.metadata(), displayname: `0x${'11'.repeat(65)}` };
  assert.throws(() => a.addMetadata(b.address, forged), { name: 'NodeError', kind: 'bad_user_id' });
  assert.throws(() => a.addMetadata(b.address, { user_id: 5 }), TypeError);
  assert.throws(() => a.addMetadata(b.address, null), TypeError);
  await assert.rejects(a.setCapabilities({ k: 1.5 }), { name: 'NodeError', kind: 'bad_config' });
  await assert.rejects(a.capabilitiesOf(mrt.PrivateKey.generate().address),
    { name: 'NodeError', kind: 'network' });
  assert.throws(() => server.node(mrt.PrivateKey.generate(), 'c', { capabilities: { '': '1' } }),
    { name: 'NodeError', kind: 'bad_config' });
}));

test('a running peer answers a live challenge, a stopped one fails it', () => withServer(async (server) => {
  const [ka, kb] = orderedKeys();
  const a = await server.started(ka, 'a');
  const b = await server.started(kb, 'b');
  await a.challenge(b.address, b.userId);
  const userId = b.userId;
  await b.stop();
  await assert.rejects(a.challenge(kb.address, userId, { waitMs: 1000 }),
    { name: 'NodeError', kind: 'challenge_failed' });
  await assert.rejects(a.challenge(ka.address, userId), { name: 'NodeError', kind: 'bad_user_id' });
}));

test('log records reach onLog on the JavaScript thread, and a throwing onLog stops nothing', { skip: onSynapse && 'it kills the homeserver' }, () => withServer(async (server) => {
  const [ka] = orderedKeys();
  const records = [];
  const errors = [];
  const a = server.node(ka, 'a', {
    syncTimeoutMs: 1000,
    logLevel: 'warning',
    onLog: (record) => { records.push(record); throw new Error("a logger's fault"); },
  });
  a.on('error', (error) => errors.push(error));
  await a.start();
  await server.kill();
  await until(() => records.filter((r) => r.event === 'sync_failed').length >= 2);
  const failed = records.find((r) => r.event === 'sync_failed');
  assert.equal(failed.level, 'warning');
  assert.equal(failed.component, 'sync');
  assert.equal(failed.fields.server, server.serverName);
  assert.ok(errors.length >= 2, 'each throw went to the error listeners');
}));

test('onLog and logLevel are checked', () => withServer(async (server) => {
  assert.throws(() => server.node(mrt.PrivateKey.generate(), 'a', { onLog: 'no' }), TypeError);
  assert.throws(() => server.node(mrt.PrivateKey.generate(), 'b', { logLevel: 'loud' }),
    { name: 'NodeError', kind: 'bad_config' });
}));
