// Keys, signatures, keystores, envelopes and vectors through the Node.js SDK (offline).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { mrt } from './homeserver.mjs';

test('a signature recovers the signer’s address', () => {
  const key = mrt.PrivateKey.generate();
  const signature = mrt.sign(key, 'hello raiden');
  assert.equal(mrt.recover(Buffer.from('hello raiden'), signature), key.address);
  assert.notEqual(mrt.recover('hello raider', signature), key.address);
});

test('a known key has its known address and is never printed', () => {
  const key = mrt.PrivateKey.fromHex('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');
  assert.equal(key.checksumAddress, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
  assert.match(String(key), /redacted/);
  assert.doesNotMatch(String(key), /ac0974/);
});

test('bad input throws with its reason', () => {
  assert.throws(() => mrt.PrivateKey.fromHex('zz'), (e) => e instanceof mrt.InvalidKeyError && e.kind === 'bad_hex');
  assert.throws(() => mrt.recover('x', '0x12'), (e) => e instanceof mrt.SignatureError && e.kind === 'malformed');
  assert.throws(() => mrt.sign('not a key', 'x'), TypeError);
  assert.throws(() => mrt.PrivateKey.fromHex(42), TypeError);
  assert.ok(new mrt.NodeError('x') instanceof mrt.MrtError);
});

test('a keystore opens with its password only', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mrt-js-keys-'));
  try {
    const file = path.join(dir, 'node.json');
    const key = mrt.PrivateKey.generate();
    await key.toKeystore(file, 'correct horse', { light: true });
    assert.equal((await mrt.PrivateKey.fromKeystore(file, Buffer.from('correct horse'))).address, key.address);
    await assert.rejects(mrt.PrivateKey.fromKeystore(file, 'wrong'),
      (e) => e instanceof mrt.KeystoreError && e.kind === 'wrong_password');
    await assert.rejects(key.toKeystore(file, 'again', { light: true }), (e) => e.kind === 'exists');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an envelope is checked as PROTOCOL section 4 says', () => {
  const alice = mrt.PrivateKey.generate();
  const bob = mrt.PrivateKey.generate();
  const envelope = mrt.messageEnvelope(alice, bob.address, 'balance proof');
  const checked = mrt.validateEnvelope(envelope, { receiver: bob.address });
  assert.equal(checked.sender, alice.address);
  assert.equal(checked.body, 'balance proof');
  assert.throws(() => mrt.validateEnvelope(envelope, { receiver: alice.address }),
    (e) => e instanceof mrt.EnvelopeError && e.kind === 'wrong_recipient');
  assert.throws(() => mrt.validateEnvelope(envelope.replace('balance', 'Balance'), { receiver: bob.address }),
    (e) => e.kind === 'bad_signature');
  assert.throws(() => mrt.validateEnvelope(envelope, {}), TypeError);
  const broadcast = mrt.broadcastEnvelope(alice, 'raiden_1_path_finding', 'capacity');
  assert.throws(() => mrt.validateEnvelope(broadcast, { topic: 'raiden_1_monitoring' }), (e) => e.kind === 'wrong_topic');
});

test('a broadcast event passes the homeserver rule only with its sender\'s own envelopes', () => {
  const alice = mrt.PrivateKey.generate();
  const mallory = mrt.PrivateKey.generate();
  const topic = 'raiden_1_path_finding';
  const batch = (...envelopes) => JSON.stringify({ envelopes: envelopes.map((e) => JSON.parse(e)) });
  const sender = `@${mallory.address}:hs.example`;
  assert.equal(mrt.refuseBroadcastEvent(batch(mrt.broadcastEnvelope(mallory, topic, 'mine')), topic, sender), null);
  const republished = mrt.refuseBroadcastEvent(batch(mrt.broadcastEnvelope(alice, topic, 'theirs')), topic, sender);
  assert.deepEqual([republished.error, republished.index], ['not_the_sender', 0]);
  const tampered = batch(mrt.broadcastEnvelope(mallory, topic, 'true').replace('true', 'false'));
  assert.equal(mrt.refuseBroadcastEvent(tampered, topic, sender).reason, 'bad_signature');
  assert.equal(mrt.refuseBroadcastEvent('{', topic, sender).error, 'not_a_batch');
});

test('every conformance vector passes', () => {
  const dir = process.env.MRT_VECTORS_DIR;
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length > 0);
  for (const file of files) {
    const report = mrt.runVectors(path.join(dir, file));
    assert.equal(report.fileError, null, file);
    assert.equal(report.failed, 0, `${file}: ${report.failures.slice(0, 3)}`);
  }
});
