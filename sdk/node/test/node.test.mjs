// mrt.Node from Node.js: nodes over the dev homeserver (`mrt serve`) on 127.0.0.1.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { mrt, nextEvent, orderedKeys, withServer } from './homeserver.mjs';

test('a message arrives once and sendAndWait resolves with its delivered event', () => withServer(async (server) => {
  const [ka, kb] = orderedKeys();
  const a = await server.started(ka, 'a');
  const b = await server.started(kb, 'b');
  const bodies = [];
  b.on('message', async (event) => { bodies.push(event.body); });
  const delivered = await a.sendAndWait(b.address, 'balance proof');
  assert.equal(delivered.type, 'delivered');
  assert.equal(delivered.peer, b.address);
  assert.deepEqual(bodies, ['balance proof']);
  assert.equal(a.stats().delivered, 1);
}));

test('an event whose handler rejects is not consumed and comes again after a restart', () => withServer(async (server) => {
  const [ka, kb] = orderedKeys();
  const a = await server.started(ka, 'a');
  let b = server.node(kb, 'b', { durable: true });
  const failing = new Promise((resolve) => {
    b.on('message', async (event) => { resolve(event); throw new Error('the application failed'); });
  });
  b.on('error', () => {});
  await b.start();
  const id = await a.send(b.address, 'first');
  assert.equal((await failing).id, id);
  await b.stop();
  b = server.node(kb, 'b', { durable: true });
  const again = new Promise((resolve) => { b.on('message', async (event) => resolve(event)); });
  await b.start();
  assert.equal((await again).id, id);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(b.stats().inbox, 0, 'consumed once its handler settled');
}));

test('events come through an async iterator that ends when the node stops', () => withServer(async (server) => {
  const [ka, kb] = orderedKeys();
  const a = await server.started(ka, 'a');
  const b = await server.started(kb, 'b');
  await a.sendMany(b.address, ['one', 'two', 'three']);
  const seen = [];
  for await (const event of b.events(['message'])) {
    seen.push(event.body);
    if (seen.length === 3) break;
  }
  assert.deepEqual(seen, ['one', 'two', 'three']);
  const iterator = a.events();
  const ended = iterator.next();
  await a.stop();
  assert.equal((await ended).done, true);
}));

test('broadcasts reach the other subscribers', () => withServer(async (server) => {
  const [ka, kb] = orderedKeys();
  const a = await server.started(ka, 'a');
  const b = await server.started(kb, 'b');
  const topic = 'raiden_1_path_finding';
  assert.equal(await a.subscribe(topic), await b.subscribe(topic));
  const heard = nextEvent(a, 'message');
  await b.broadcast(topic, 'capacity update');
  const event = await heard;
  assert.equal(event.topic, topic);
  assert.equal(event.peer, b.address);
  assert.equal(event.carrier, null);
}));

test('an events room\'s envelopes are kept as evidence', () => withServer(async (server) => {
  const [ka, kb] = orderedKeys();
  const reader = await server.started(ka, 'reader');
  const operator = await server.started(kb, 'operator');
  const topic = `raiden_1_events_${operator.address}`;
  assert.equal(await operator.subscribe(topic), await reader.subscribe(topic));
  const heard = nextEvent(reader, 'message');
  await operator.broadcast(topic, 'ChannelOpened');
  await heard;
  const [envelope, ...more] = reader.evidence(topic);
  assert.equal(more.length, 0);
  const checked = mrt.validateEnvelope(envelope, { topic });
  assert.equal(checked.sender, operator.address);
  assert.equal(checked.body, 'ChannelOpened');
  assert.throws(() => reader.evidence('raiden_1_monitoring'), (e) => e.kind === 'bad_topic');
}));

test('a cancelled message is neither delivered nor failed', () => withServer(async (server) => {
  const [ka] = orderedKeys();
  const a = await server.started(ka, 'a');
  const id = await a.send(mrt.PrivateKey.generate().address, 'lost');
  assert.equal(await a.cancel(id), true);
  assert.equal(await a.cancel(id), false);
  assert.equal(a.stats().outbox, 0);
}));

test('bad input rejects with the node’s reason', () => withServer(async (server) => {
  const [ka, kb] = orderedKeys();
  const a = await server.started(ka, 'a');
  await assert.rejects(a.send(kb.address, 'x'.repeat(40000)), (e) => e instanceof mrt.NodeError && e.kind === 'too_large');
  await assert.rejects(a.send(12345, 'x'), TypeError);
  await assert.rejects(a.send(kb.address, null), TypeError);
  await assert.rejects(a.send('0xnot-an-address', 'x'), (e) => e instanceof mrt.AddressError && e.kind === 'malformed');
  await assert.rejects(a.subscribe('Not A Topic'), (e) => e.kind === 'bad_topic');
  assert.throws(() => server.node(ka, 'a'), (e) => e instanceof mrt.NodeError && e.kind === 'store');
  assert.throws(() => new mrt.Node(ka, { homeserver: 'ftp://x', dataDir: `${server.dir}/x` }), (e) => e.kind === 'bad_config');
  assert.throws(() => new mrt.Node(ka, null), TypeError);
  await a.stop();
  await assert.rejects(a.send(kb.address, 'too late'), (e) => e instanceof mrt.NodeError && e.kind === 'not_started');
  assert.throws(() => a.watch(kb.address), (e) => e.kind === 'not_started');
  await a.stop(); // idempotent
}));
