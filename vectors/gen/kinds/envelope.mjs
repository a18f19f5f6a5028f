// envelope vectors (PROTOCOL.md §4, rules 1-5): a signed envelope, where it arrived (a unicast
// carrier of `receiver` when `topic` is null, else the broadcast room of `topic`), the
// receiver's clock `now`, and the first rule it fails ("accepted" when none).
//
// Made with: ethers `Wallet.signMessageSync` (byte-identical to @noble/curves, crossSign) over
// the canonical JSON of lib/strict_json.mjs of the envelope without "sig"; broken signatures
// made with BigInt arithmetic on (r, s, v) or by signing other bytes. Invalid envelopes carry a
// signature over exactly their own (invalid) object unless the case says otherwise, so that
// only the rule named in the case fails first.
// Checked with: lib/envelope_noble.mjs (strict JSON model, regex schema, noble recovery with
// the §1 rules) and lib/envelope_node.mjs (plain objects, loop-written schema, its own
// canonical writer, ethers verifyMessage after the §1 rules): both must give the case's
// result; the canonical texts of the two writers must agree (check.mjs also compares them
// with python canonicaljson).
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { SECP_N, utf8, seedBytes, seedKey, hex, concat, assert, assertEq } from '../lib/common.mjs';
import { parseStrict, canonicalize } from '../lib/strict_json.mjs';
import { nobleAddress, eip55, isCurveX } from '../lib/eth_noble.mjs';
import { crossSign } from './personal_sign.mjs';
import { envelopeResultNoble, signingPayloadNoble, MAX_ENVELOPE_BYTES } from '../lib/envelope_noble.mjs';
import { envelopeResultNode } from '../lib/envelope_node.mjs';

const NOW = 1732528800000; // 2024-11-25T10:00:00Z
const MAX_AGE = 3600000;
const SKEW = 120000;
const MAX_SAFE = 9007199254740991;

const clone = (v) => JSON.parse(JSON.stringify(v));
const model = (plainValue) => parseStrict(JSON.stringify(plainValue));
const canon = (plainValue) => canonicalize(model(plainValue));
const byteLen = (s) => utf8(s).length;
const without = (o, ...ks) => {
  const c = { ...o };
  for (const k of ks) delete c[k];
  return c;
};

const splitSig = (sig) => ({ r: BigInt('0x' + sig.slice(2, 66)), s: BigInt('0x' + sig.slice(66, 130)), v: parseInt(sig.slice(130), 16) });
const joinSig = (r, s, v) => '0x' + r.toString(16).padStart(64, '0') + s.toString(16).padStart(64, '0') + v.toString(16).padStart(2, '0');

export function generate() {
  const keys = [0, 1, 2, 3, 4].map((i) => seedKey('envelope', i));
  const [alice, bob, carol, mallory, service] = keys.map((k) => ({ key: k, addr: nobleAddress(k) }));
  const tokenNetwork = hex(seedBytes('envelope/token_network', 0, 20));
  const operator = service.addr;

  let nonceCounter = 0;
  const nonce = () => Buffer.from(seedBytes('envelope/nonce', nonceCounter++, 16)).toString('hex');

  // An envelope as a plain object, fields in the order of PROTOCOL.md §4.
  function make({ from = alice, to = bob.addr, topic, kind = 'message', ts = NOW - 4000, body = 'hello', acks } = {}) {
    const e = { v: 1, kind, sender: from.addr };
    if (topic !== undefined) e.topic = topic;
    else e.recipient = to;
    e.nonce = nonce();
    e.ts = ts;
    if (kind === 'ack') e.acks = acks ?? [nonce()];
    else e.body = body;
    return e;
  }
  // personal_sign (ethers and noble, byte-identical) over the canonical JSON without "sig".
  function signWith(e, signer, what = 'envelope') {
    const payload = canon(without(e, 'sig'));
    assertEq(payload, signingPayloadNoble(model(e)), 'payload');
    e.sig = crossSign(signer.key, utf8(payload), what);
    return e;
  }
  const signed = (opts = {}, signer = opts.from ?? alice) => signWith(make(opts), signer);

  const cases = [];
  const seen = new Set();
  const add = (comment, envelope, receiver, topic, now, result) => {
    const doc = clone(envelope);
    const a = envelopeResultNoble(model(doc), receiver, topic, now);
    const b = envelopeResultNode(clone(doc), receiver, topic, now);
    assertEq(a, result, `noble checker (${comment})`);
    assertEq(b.result, result, `node/ethers checker (${comment})`);
    if (result !== 'malformed') {
      assertEq(b.canonical, canon(doc), `canonical writers (${comment})`);
      assertEq(b.payload, canon(without(doc, 'sig')), `payload writers (${comment})`);
    }
    assert(topic !== null || receiver !== null, 'a unicast carrier has a receiver');
    const key = JSON.stringify([doc, receiver, topic, now]);
    assert(!seen.has(key), `duplicate case (${comment})`);
    seen.add(key);
    cases.push({ comment, envelope: doc, receiver, topic, now, result });
  };
  const unicast = (comment, e, result, receiver = bob.addr, now = NOW) => add(comment, e, receiver, null, now, result);
  const room = (comment, e, topic, result, receiver = null, now = NOW) => add(comment, e, receiver, topic, now, result);

  // ------------------------------------------------------------------ accepted
  unicast('unicast message alice -> bob on bob\'s carrier', signed({ body: 'hello' }), 'accepted');
  room('broadcast message in raiden_1_monitoring, receiver null', signed({ topic: 'raiden_1_monitoring', body: '{"type":"RequestMonitoring"}' }), 'raiden_1_monitoring', 'accepted');
  room(
    'broadcast message in raiden_5_discovery_<token network>, receiver given (ignored in a room)',
    signed({ from: carol, topic: `raiden_5_discovery_${tokenNetwork}`, body: 'open channels with me' }),
    `raiden_5_discovery_${tokenNetwork}`,
    'accepted',
    bob.addr,
  );
  room('broadcast message in raiden_1_path_finding', signed({ from: bob, topic: 'raiden_1_path_finding', ts: NOW - 1, body: '{"type":"PFSCapacityUpdate"}' }), 'raiden_1_path_finding', 'accepted');
  unicast('ack with 1 nonce, bob -> alice', signed({ from: bob, to: alice.addr, kind: 'ack' }), 'accepted', alice.addr);
  const acks256 = Array.from({ length: 256 }, () => nonce());
  unicast('ack with 256 nonces (the maximum)', signed({ from: bob, to: alice.addr, kind: 'ack', acks: acks256 }), 'accepted', alice.addr);
  unicast('empty body', signed({ body: '' }), 'accepted');
  {
    const body = 'Gr\u00fc\u00dfe, \u4e16\u754c! \ud83e\udd8a \u2028\u2029 \ufeff \u007f \u00e9 e\u0301';
    const e = signed({ body, ts: NOW - 777 });
    unicast(
      `body with non-ASCII (2-, 3- and 4-byte UTF-8, U+2028, U+2029, U+FEFF, DEL, NFC and NFD e-acute), written raw in the signed canonical JSON: ${canon(without(e, 'sig'))}`,
      e,
      'accepted',
    );
  }
  {
    const body = 'quote " backslash \\ slash / \b\f\n\r\t nul \u0000 \u0001 \u001f end';
    const e = signed({ body, ts: NOW - 778 });
    unicast(`body with escapes and control characters; the signed canonical JSON is ${canon(without(e, 'sig'))}`, e, 'accepted');
  }
  unicast('sender == recipient (a node messaging itself) on its own carrier', signed({ to: alice.addr, body: 'self' }), 'accepted', alice.addr);
  // signatures with v = 0 and v = 1 (27 / 28 minus 27)
  for (const want of [27, 28]) {
    let e;
    do e = signed({ body: `v is ${want - 27}`, ts: NOW - 30000 });
    while (splitSig(e.sig).v !== want);
    const { r, s } = splitSig(e.sig);
    e.sig = joinSig(r, s, want - 27);
    unicast(`signature with v = ${want - 27} instead of ${want} (accepted, PROTOCOL.md \u00a71)`, e, 'accepted');
  }
  {
    const e = signed({ body: 'key order', ts: NOW - 9999 });
    const sorted = {};
    for (const k of Object.keys(e).sort().reverse()) sorted[k] = e[k];
    unicast('fields written in reverse alphabetical order (the order in the received text does not matter)', sorted, 'accepted');
  }
  {
    const t200 = 'raiden_' + 'x'.repeat(193);
    assertEq(t200.length, 200, 't200');
    room('topic of 200 characters (the maximum)', signed({ topic: t200 }), t200, 'accepted');
  }
  unicast('ts == now', signed({ ts: NOW, body: 'now' }), 'accepted');
  unicast('ts == now - 3600000 (oldest accepted)', signed({ ts: NOW - MAX_AGE, body: 'old' }), 'accepted');
  unicast('ts == now + 120000 (furthest future accepted)', signed({ ts: NOW + SKEW, body: 'future' }), 'accepted');

  // envelopes whose canonical JSON (sig included) is exactly `target` bytes
  const DUMMY_SIG = '0x' + '00'.repeat(65);
  function sized(target, fill, opts = {}, signer = alice) {
    const e = make({ ...opts, body: '' });
    const base = byteLen(canon({ ...e, sig: DUMMY_SIG }));
    e.body = fill(target - base);
    const total = byteLen(canon({ ...e, sig: DUMMY_SIG }));
    assertEq(total, target, 'sized body');
    signWith(e, signer);
    assertEq(byteLen(canon(e)), target, 'sized envelope');
    return e;
  }
  const ascii = (n) => 'a'.repeat(n);
  const multi = (n) => {
    // 'é€🦊' = 2 + 3 + 4 bytes
    const k = Math.floor(n / 9);
    return '\u00e9\u20ac\ud83e\udd8a'.repeat(k) + 'a'.repeat(n - 9 * k);
  };
  const ctrl = (n) => {
    // U+0001 is 6 bytes in canonical JSON ("\u0001")
    const k = Math.floor(n / 6);
    return '\u0001'.repeat(k) + 'a'.repeat(n - 6 * k);
  };
  unicast('canonical JSON of exactly 32768 bytes (ASCII body)', sized(MAX_ENVELOPE_BYTES, ascii, { ts: NOW - 100 }), 'accepted');
  {
    const e = sized(MAX_ENVELOPE_BYTES, multi, { ts: NOW - 101 });
    unicast(`canonical JSON of exactly 32768 UTF-8 bytes, body of ${[...e.body].length} characters (2-, 3- and 4-byte); bytes are counted, after canonicalisation (this file spells them as \\u escapes)`, e, 'accepted');
  }
  {
    const e = sized(MAX_ENVELOPE_BYTES, ctrl, { ts: NOW - 102 });
    unicast(`canonical JSON of exactly 32768 bytes, body of ${e.body.length} characters, mostly U+0001 (6 bytes each as \\u0001)`, e, 'accepted');
  }

  // ------------------------------------------------------------------ 1: malformed
  // Each is signed over its own (malformed) object unless said otherwise.
  const bad = (comment, mutate, { opts = {}, resign = true, receiver = bob.addr, topic = null } = {}) => {
    const e = make(opts);
    mutate(e);
    if (resign) signWith(e, opts.from ?? alice, comment);
    add(comment, e, receiver, topic, NOW, 'malformed');
  };
  bad('no "v"', (e) => delete e.v);
  bad('"v": 2', (e) => (e.v = 2));
  bad('"v": "1" (a string)', (e) => (e.v = '1'));
  bad('"kind": "Message" (case matters)', (e) => (e.kind = 'Message'));
  bad('sender EIP-55 checksummed (uppercase hex)', (e) => (e.sender = eip55(e.sender)));
  bad('sender without "0x"', (e) => (e.sender = e.sender.slice(2)));
  bad('recipient EIP-55 checksummed (uppercase hex)', (e) => (e.recipient = eip55(e.recipient)));
  bad('both recipient and topic', (e) => (e.topic = 'raiden_1_monitoring'));
  bad('neither recipient nor topic', (e) => delete e.recipient);
  bad('recipient and "topic": null (a present key with null counts as present)', (e) => (e.topic = null));
  bad('topic with uppercase letters', (e) => e, { opts: { topic: 'Raiden_1_monitoring' }, receiver: null, topic: 'Raiden_1_monitoring' });
  {
    const t201 = 'raiden_' + 'x'.repeat(194);
    bad('topic of 201 characters', (e) => e, { opts: { topic: t201 }, receiver: null, topic: t201 });
  }
  bad('topic with "-"', (e) => e, { opts: { topic: 'raiden-1-monitoring' }, receiver: null, topic: 'raiden-1-monitoring' });
  bad('empty topic', (e) => e, { opts: { topic: '' }, receiver: null, topic: 'raiden_1_monitoring' });
  bad('topic with a trailing newline (the pattern is anchored to the whole string)', (e) => e, { opts: { topic: 'raiden_1_monitoring\n' }, receiver: null, topic: 'raiden_1_monitoring\n' });
  bad('nonce of 30 hex digits', (e) => (e.nonce = e.nonce.slice(0, 30)));
  bad('nonce of 34 hex digits', (e) => (e.nonce = e.nonce + 'ab'));
  bad('nonce in uppercase hex', (e) => (e.nonce = e.nonce.toUpperCase()));
  bad('negative ts', (e) => (e.ts = -1));
  bad('ts as a decimal string', (e) => (e.ts = String(e.ts)));
  bad('message without "body"', (e) => delete e.body);
  bad('message with "body": null', (e) => (e.body = null));
  bad('message with "acks" as well', (e) => (e.acks = [nonce()]));
  bad('ack with "body" as well', (e) => (e.body = 'x'), { opts: { kind: 'ack' } });
  bad('ack without "acks"', (e) => delete e.acks, { opts: { kind: 'ack' } });
  bad('ack with an empty "acks"', (e) => (e.acks = []), { opts: { kind: 'ack' } });
  bad('ack with 257 nonces', (e) => (e.acks = Array.from({ length: 257 }, () => nonce())), { opts: { kind: 'ack' } });
  bad('ack with the same nonce twice', (e) => (e.acks = [e.acks[0], nonce(), e.acks[0]]), { opts: { kind: 'ack' } });
  bad('ack with an uppercase nonce in "acks"', (e) => e.acks.push(nonce().toUpperCase()), { opts: { kind: 'ack' } });
  bad('no "sig"', (e) => e, { resign: false });
  bad('extra field "x"', (e) => (e.x = 1));
  {
    const sigBad = (comment, f) => bad(comment, (e) => (signWith(e, alice), (e.sig = f(e.sig))), { resign: false });
    sigBad('sig in uppercase hex', (s) => '0x' + s.slice(2).toUpperCase());
    sigBad('sig of 64 bytes (r || s, no v)', (s) => s.slice(0, 130));
  }
  bad('ordering: v = 2 AND signed by mallory (rule 1 comes before rule 3)', (e) => ((e.v = 2), signWith(e, mallory)), { resign: false });

  // ------------------------------------------------------------------ 2: too_large
  {
    const e = sized(MAX_ENVELOPE_BYTES + 1, ascii, { ts: NOW - 200 });
    unicast(`canonical JSON of 32769 bytes (ASCII body; without "sig" it would be ${byteLen(canon(without(e, 'sig')))} bytes: sig is counted)`, e, 'too_large');
  }
  {
    const e = sized(MAX_ENVELOPE_BYTES + 1, multi, { ts: NOW - 201 });
    unicast(`canonical JSON of 32769 UTF-8 bytes, body of only ${[...e.body].length} characters (bytes are counted, not characters)`, e, 'too_large');
  }
  {
    const e = sized(MAX_ENVELOPE_BYTES + 1, ctrl, { ts: NOW - 202 });
    unicast(`canonical JSON of 32769 bytes, body of only ${e.body.length} characters (U+0001 counts 6 bytes as \\u0001)`, e, 'too_large');
  }
  {
    const e = sized(MAX_ENVELOPE_BYTES + 1, ascii, { ts: NOW - 203 }, mallory);
    unicast('ordering: 32769 bytes AND signed by mallory (rule 2 comes before rule 3)', e, 'too_large');
  }

  // ------------------------------------------------------------------ 3: bad_signature
  unicast('sender alice, signed by mallory', signed({ body: 'from alice?' }, mallory), 'bad_signature');
  {
    const e = signed({ body: 'pay 10' });
    e.body = 'pay 99';
    unicast('body changed after signing', e, 'bad_signature');
  }
  {
    const e = signed({ body: 'ts', ts: NOW - 5000 });
    e.ts += 1;
    unicast('ts changed (+1 ms) after signing', e, 'bad_signature');
  }
  {
    const e = signed({ to: carol.addr, body: 'for carol' });
    e.recipient = bob.addr;
    unicast('recipient changed from carol to bob (the receiver) after signing', e, 'bad_signature');
  }
  {
    const e = signed({ topic: 'raiden_5_monitoring', body: 'chain 5' });
    e.topic = 'raiden_1_monitoring';
    room('topic changed after signing', e, 'raiden_1_monitoring', 'bad_signature');
  }
  {
    const e = signed({ from: bob, to: alice.addr, kind: 'ack', acks: [nonce(), nonce()] });
    e.acks[1] = nonce();
    unicast('ack: one acked nonce changed after signing', e, 'bad_signature', alice.addr);
  }
  {
    const e = signed({ from: mallory, body: 'impersonation' });
    e.sender = alice.addr;
    unicast('valid envelope of mallory with "sender" changed to alice after signing', e, 'bad_signature');
  }
  {
    const e = signed({ body: 'high s', ts: NOW - 3000 });
    const { r, s, v } = splitSig(e.sig);
    e.sig = joinSig(r, SECP_N - s, v === 27 ? 28 : 27);
    unicast(`high-S twin of a valid signature (s' = n - s, v ${v} -> ${v === 27 ? 28 : 27}; recovers alice mathematically, refused)`, e, 'bad_signature');
  }
  {
    const e = signed({ body: 'v 29', ts: NOW - 3001 });
    const { r, s } = splitSig(e.sig);
    e.sig = joinSig(r, s, 29);
    unicast('v = 29 (well-formed sig, other v: bad signature, not malformed)', e, 'bad_signature');
  }
  {
    const e = signed({ body: 'r 0', ts: NOW - 3003 });
    const { s, v } = splitSig(e.sig);
    e.sig = joinSig(0n, s, v);
    unicast('r = 0', e, 'bad_signature');
  }
  {
    const e = signed({ body: 's n', ts: NOW - 3006 });
    const { r, v } = splitSig(e.sig);
    e.sig = joinSig(r, SECP_N, v);
    unicast('s = n', e, 'bad_signature');
  }
  {
    const e = signed({ body: 'off curve', ts: NOW - 3007 });
    const { s, v } = splitSig(e.sig);
    let x = 5n;
    while (isCurveX(x)) x++;
    e.sig = joinSig(x, s, v);
    unicast(`r = ${x}, not the x of any curve point (recovers no key)`, e, 'bad_signature');
  }
  {
    const e = make({ body: 'insertion order', ts: NOW - 3009 });
    const text = JSON.stringify(e);
    assert(text !== canon(e), 'JSON.stringify differs from canonical JSON');
    e.sig = crossSign(alice.key, utf8(text), 'non-canonical');
    unicast(`signature over JSON.stringify in the order of this file (${text.length} bytes) instead of canonical JSON`, e, 'bad_signature');
  }
  {
    const e = make({ body: 'caf\u00e9 \u4e16\u754c', ts: NOW - 3011 });
    const ensureAscii = canon(e).replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
    assert(ensureAscii !== canon(e), 'escaped differs');
    e.sig = crossSign(alice.key, utf8(ensureAscii), 'ensure_ascii');
    unicast('signature over sorted-keys JSON with non-ASCII written as \\u escapes (python json.dumps ensure_ascii) instead of raw UTF-8', e, 'bad_signature');
  }
  {
    const e = make({ body: 'no prefix', ts: NOW - 3012 });
    const rec = secp256k1.sign(keccak_256(utf8(canon(e))), alice.key, { prehash: false, lowS: true, extraEntropy: false, format: 'recovered' });
    e.sig = hex(concat(rec.slice(1, 65), Uint8Array.of(27 + rec[0])));
    unicast('ECDSA over keccak256(canonical JSON) without the EIP-191 prefix', e, 'bad_signature');
  }
  {
    const e = signed({ to: carol.addr, body: 'mis-signed' }, mallory);
    unicast('ordering: signed by mallory AND recipient is carol, not the receiver bob (rule 3 comes before rule 4)', e, 'bad_signature');
  }

  // ------------------------------------------------------------------ 4: wrong_recipient / wrong_topic
  unicast('unicast to carol arriving on bob\'s carrier', signed({ to: carol.addr, body: 'for carol' }), 'wrong_recipient');
  room('unicast envelope in the broadcast room raiden_1_monitoring (receiver null)', signed({ body: 'leaked' }), 'raiden_1_monitoring', 'wrong_recipient');
  room('unicast envelope to bob in a broadcast room, receiver bob (a room is not a unicast carrier)', signed({ body: 'leaked 2' }), 'raiden_1_monitoring', 'wrong_recipient', bob.addr);
  unicast('ordering: expired (ts = now - 3600001) AND recipient carol on bob\'s carrier (rule 4 comes before rule 5)', signed({ to: carol.addr, ts: NOW - MAX_AGE - 1 }), 'wrong_recipient');
  room('broadcast for raiden_5_monitoring in the room raiden_1_monitoring', signed({ topic: 'raiden_5_monitoring', body: 'x' }), 'raiden_1_monitoring', 'wrong_topic');
  unicast('broadcast envelope (topic raiden_1_monitoring) on bob\'s unicast carrier', signed({ topic: 'raiden_1_monitoring', body: 'x' }), 'wrong_topic');
  {
    const other = hex(seedBytes('envelope/token_network', 1, 20));
    room('discovery topic of another token network', signed({ topic: `raiden_1_discovery_${other}` }), `raiden_1_discovery_${tokenNetwork}`, 'wrong_topic');
  }
  room('topic raiden_1_monitoring in the room raiden_1_monitoring_x (exact match, not prefix)', signed({ topic: 'raiden_1_monitoring' }), 'raiden_1_monitoring_x', 'wrong_topic');
  room('ordering: expired (ts = now + 120001) AND topic of another room (rule 4 comes before rule 5)', signed({ topic: 'raiden_5_path_finding', ts: NOW + SKEW + 1 }), 'raiden_1_path_finding', 'wrong_topic');

  // ------------------------------------------------------------------ 5: expired
  unicast('ts == now - 3600001 (one ms too old)', signed({ ts: NOW - MAX_AGE - 1, body: 'old' }), 'expired');
  unicast('ts == now + 120001 (one ms too far ahead)', signed({ ts: NOW + SKEW + 1, body: 'future' }), 'expired');
  room('broadcast, ts == now + 120001', signed({ topic: 'raiden_1_monitoring', ts: NOW + SKEW + 1 }), 'raiden_1_monitoring', 'expired');
    unicast('ts == 0', signed({ ts: 0, body: 'epoch' }), 'expired');
  unicast('ts == 2^53 - 1 (largest allowed by the schema)', signed({ ts: MAX_SAFE, body: 'far future' }), 'expired');

  // sanity: both v values among the plain valid signatures, every result present
  const results = new Set(cases.map((c) => c.result));
  for (const r of ['accepted', 'malformed', 'too_large', 'bad_signature', 'wrong_recipient', 'wrong_topic', 'expired']) assert(results.has(r), `a case with result ${r}`);
  const vs = new Set(cases.filter((c) => c.result === 'accepted').map((c) => c.envelope.sig.slice(130)));
  for (const v of ['00', '01', '1b', '1c']) assert(vs.has(v), `an accepted case with v=0x${v}`);
  return { kind: 'envelope', cases };
}
