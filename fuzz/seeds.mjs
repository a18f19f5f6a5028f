// Builds the libFuzzer seed corpora from the conformance vectors (PROTOCOL.md §7) plus a few
// hand-made inputs that reach deep paths (cheap keystores that open with the fuzz password,
// objects signed with the fuzz Ed25519 key).
//
//   node fuzz/seeds.mjs [VECTORS_DIR] [OUT_DIR]     (defaults: vectors, build-fuzz/corpus)
//
// Writes OUT_DIR/<target>/<name> for every target of fuzz/CMakeLists.txt. The corpora are build
// output: never commit them. Deterministic: the same vectors give the same files.
import { createCipheriv, createHash, pbkdf2Sync, scryptSync } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';

const vectorsDir = resolve(process.argv[2] ?? 'vectors');
const outDir = resolve(process.argv[3] ?? 'build-fuzz/corpus');

// Must match the harnesses.
const FUZZ_PASSWORD = 'mrt fuzz password';                      // keystore_fuzz.cpp
const FUZZ_USER = '@0x00000000000000000000000000000000000000aa:fuzz.example';  // matrix_signing
const FUZZ_KEY_ID = 'ed25519:FUZZDEV';
const FUZZ_ED25519_SEED = Uint8Array.from({ length: 32 }, (_, i) => i);

const TARGETS = ['canonical_json', 'ecrecover', 'keystore', 'hex_base64', 'address_userid',
                 'vector_runner', 'matrix_signing', 'attestation', 'envelope', 'megolm_decrypt',
                 'olm_decrypt', 'key_export', 'store_records', 'e2ee_intake',
                 'devserver_request', 'matrix_response', 'sync_batch', 'oversized_element_filter',
                 'capabilities', 'live_challenge'];
const corpora = Object.fromEntries(TARGETS.map((t) => [t, new Map()]));

function add(target, data) {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  const name = createHash('sha1').update(bytes).digest('hex');  // libFuzzer's own naming
  corpora[target].set(name, bytes);
}

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const unhex = (text) => Buffer.from(text.replace(/^0x/, ''), 'hex');
const keccak = (bytes) => Buffer.from(keccak_256(bytes));
function addressOf(privateKey) {
  const pub = secp256k1.getPublicKey(privateKey, false);
  return keccak(pub.subarray(1)).subarray(12);
}

// Canonical JSON for the plain ASCII values built here (keys sorted, no whitespace).
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

// ---- the vectors ---------------------------------------------------------------------------
const files = readdirSync(vectorsDir).filter((f) => f.endsWith('.json')).sort();
const docs = {};
for (const f of files) {
  const text = readFileSync(join(vectorsDir, f), 'utf8');
  const doc = JSON.parse(text);
  docs[doc.kind] = doc;
  add('canonical_json', text);
  add('matrix_signing', text);
  // One document per case for the vector runner (small inputs mutate better than whole files).
  for (const c of doc.cases) {
    add('vector_runner', JSON.stringify({ kind: doc.kind, cases: [c] }));
  }
}

for (const c of docs.canonical_json?.cases ?? []) {
  if ('input_text' in c) add('canonical_json', c.input_text);
  if ('input_hex' in c) add('canonical_json', unhex(c.input_hex));
  if ('input' in c) {
    add('canonical_json', JSON.stringify(c.input, null, 1));
    if (c.input !== null && typeof c.input === 'object' && !Array.isArray(c.input)) {
      add('matrix_signing', JSON.stringify(c.input));
    }
  }
  if ('canonical' in c) add('canonical_json', c.canonical);
}

const ecrecoverSeed = (message, signature) =>
  Buffer.concat([Buffer.from([message.length]), message, Buffer.from(signature, 'latin1')]);
for (const kind of ['ecrecover', 'personal_sign']) {
  for (const c of docs[kind]?.cases ?? []) {
    const message = unhex(c.message);
    if (message.length > 255) continue;
    add('ecrecover', ecrecoverSeed(message, c.signature));
    if (/^0x[0-9a-f]{130}$/.test(c.signature)) {
      add('ecrecover', Buffer.concat([Buffer.from([message.length]), message, unhex(c.signature)]));
    }
    add('hex_base64', c.signature);
  }
}

for (const c of docs.eth_address?.cases ?? []) {
  add('address_userid', c.address);
  add('address_userid', c.address.toLowerCase());
  add('hex_base64', c.private_key);
}
for (const c of docs.matrix_identity?.cases ?? []) {
  add('address_userid', `${c.user_id}\n${c.displayname}`);
  add('address_userid', `${c.user_id}\n${c.password}`);
  // The same proof under another server name must fail (PROTOCOL.md §2).
  add('address_userid', `${c.user_id}x\n${c.displayname}`);
  const message = Buffer.from(c.user_id, 'utf8');
  if (message.length <= 255) add('ecrecover', ecrecoverSeed(message, c.displayname));
}
for (const c of docs.keccak256?.cases ?? []) {
  if (c.input.length <= 2050) add('hex_base64', c.input);
}

for (const c of docs.keystore_v3?.cases ?? []) add('keystore', JSON.stringify(c.keystore, null, 1));

// Device keys with attestations (valid and broken ones): the attestation target, and signed
// objects for matrix_signing (signed by other keys than the harness's).
for (const c of docs.attestation?.cases ?? []) {
  add('attestation', JSON.stringify(c.device_keys));
  add('matrix_signing', JSON.stringify(c.device_keys));
}

// ---- cheap keystores that open with FUZZ_PASSWORD --------------------------------------------
const PRIVATE_KEY = unhex('4646464646464646464646464646464646464646464646464646464646464646');
const OTHER_KEY = unhex('0101010101010101010101010101010101010101010101010101010101010101');
const ORDER = unhex('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');

function keystore({ secret = PRIVATE_KEY, password = FUZZ_PASSWORD, kdf = 'scrypt',
                    n = 2, r = 1, p = 1, c = 1, dklen = 32, saltSize = 32, prefix = '',
                    spelling = 'crypto', address = addressOf(PRIVATE_KEY), upper = false } = {}) {
  const salt = Buffer.alloc(saltSize, 0x5a);
  const iv = Buffer.alloc(16, 0xa5);
  const dk = kdf === 'scrypt'
    ? scryptSync(Buffer.from(password), salt, dklen, { N: n, r, p })
    : pbkdf2Sync(Buffer.from(password), salt, c, dklen, 'sha256');
  const cipher = createCipheriv('aes-128-ctr', dk.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()]);
  const mac = keccak(Buffer.concat([dk.subarray(16, 32), ciphertext]));
  const h = (b) => prefix + (upper ? hex(b).toUpperCase() : hex(b));
  const kdfparams = kdf === 'scrypt'
    ? { dklen, n, p, r, salt: h(salt) }
    : { c, dklen, prf: 'hmac-sha256', salt: h(salt) };
  const ks = {
    version: 3,
    id: '3198bc9c-6672-5ab3-d995-4942343ae5b6',
    [spelling]: { cipher: 'aes-128-ctr', cipherparams: { iv: h(iv) }, ciphertext: h(ciphertext),
                  kdf, kdfparams, mac: h(mac) },
  };
  if (address) ks.address = hex(address);
  return ks;
}

const keystores = [
  ['scrypt n=2', keystore(), PRIVATE_KEY],
  ['scrypt n=16 r=8 p=8 (cost 1024), Crypto', keystore({ n: 16, r: 8, p: 8, spelling: 'Crypto' }), PRIVATE_KEY],
  ['pbkdf2 c=1, no address', keystore({ kdf: 'pbkdf2', c: 1, address: null }), PRIVATE_KEY],
  ['pbkdf2 c=1024, 0x hex', keystore({ kdf: 'pbkdf2', c: 1024, prefix: '0x' }), PRIVATE_KEY],
  ['uppercase hex, dklen 64, empty salt', keystore({ upper: true, dklen: 64, saltSize: 0 }), PRIVATE_KEY],
  ['address of another key', keystore({ address: addressOf(OTHER_KEY) }), null],
  ['secret zero', keystore({ secret: Buffer.alloc(32) }), null],
  ['secret = group order', keystore({ secret: ORDER }), null],
  ['31-byte secret', keystore({ secret: PRIVATE_KEY.subarray(1) }), null],
  ['other password', keystore({ password: 'not the fuzz password' }), null],
];
for (const [comment, ks] of keystores) add('keystore', canonical(ks));
// The vector runner gets the same keystores as keystore_v3 cases (they open with their password).
for (const [comment, ks, key] of keystores) {
  add('vector_runner', canonical({ kind: 'keystore_v3', cases: [{ comment, keystore: ks,
    password: FUZZ_PASSWORD, private_key: key ? `0x${hex(key)}` : null }] }));
}

// ---- objects signed with the fuzz Ed25519 key -----------------------------------------------
function signJson(object) {
  const { signatures, unsigned, ...rest } = object;
  const sig = ed25519.sign(Buffer.from(canonical(rest)), FUZZ_ED25519_SEED);
  const b64 = Buffer.from(sig).toString('base64').replace(/=+$/, '');
  return { ...object, signatures: { ...(signatures ?? {}), [FUZZ_USER]: { [FUZZ_KEY_ID]: b64 } } };
}
const deviceKeys = {
  algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
  device_id: 'FUZZDEV',
  keys: { 'curve25519:FUZZDEV': 'wjLpTLRqbqBzLs63aYaEv2Boi6cFEbbM/sSRQ2oAKk4',
          'ed25519:FUZZDEV': 'nE6W2fCblxDcOFmeEtCHNl8/l8bXcu7GKyAswA4r3mM' },
  user_id: FUZZ_USER,
  'network.raiden.attestation': { address: '0x00000000000000000000000000000000000000aa',
                                  issued_at: 1732528800000, sig: `0x${'11'.repeat(65)}` },
};
const signedSeeds = [
  signJson({}),
  signJson({ one: 1, two: 'Two' }),
  signJson(deviceKeys),
  signJson({ ...deviceKeys, unsigned: { device_display_name: 'laptop' } }),
  signJson({ content: { body: 'hi' }, signatures: { '@other:server': { 'ed25519:X': 'AAAA' } } }),
];
for (const s of signedSeeds) {
  add('matrix_signing', canonical(s));
  add('matrix_signing', JSON.stringify(s, null, 2));
}
add('matrix_signing', canonical({ ...signedSeeds[1], two: 'two' }));  // payload changed
const padded = JSON.parse(JSON.stringify(signedSeeds[1]));
padded.signatures[FUZZ_USER][FUZZ_KEY_ID] += '==';
add('matrix_signing', canonical(padded));

// ---- envelopes, Megolm, Olm, key exports ---------------------------------------------------------
for (const c of docs.envelope?.cases ?? []) add('envelope', JSON.stringify(c.envelope));
for (const c of docs.megolm_decrypt?.cases ?? []) {
  add('megolm_decrypt', `${c.session_key}\n${c.ciphertext}`);
}
for (const c of docs.megolm_decrypt?.cases ?? []) add('olm_decrypt', `\x01${c.ciphertext}`);
add('olm_decrypt', '\x00AwogAAAA');
add('key_export', '-----BEGIN MEGOLM SESSION DATA-----\n' +
    'AXNhbHRzYWx0c2FsdHNhbHSIiIiIiIiIiIiIiIiIiIiIAAAACmIRUW2OjZ3L2l6j9h0lHlV3M2dx\n' +
    'cissyYBxjsfsAndErh065A8=\n-----END MEGOLM SESSION DATA-----\n');  // Element's test file
add('key_export', '-----BEGIN MEGOLM SESSION DATA-----\nAQ\n-----END MEGOLM SESSION DATA-----');

// ---- store records: header (u16 table length, u16 key length, position, flip, split), table,
// record key, value (store_records_fuzz.cpp)
function storeRecord(table, key, value, [position, flip, split] = [0, 1, 0]) {
  const t = Buffer.from(table), k = Buffer.from(key), v = Buffer.from(value);
  const header = Buffer.from([t.length >> 8, t.length & 0xff, k.length >> 8, k.length & 0xff,
                              position, flip, split]);
  return Buffer.concat([header, t, k, v]);
}
const storeValues = ['', '{}', '{"a":1,"b":[true,false,null]}', '"\\u00e9"', 'not json',
                     Buffer.from('0000000000000001ffffffffffffffff', 'hex'), Buffer.alloc(8)];
for (const c of (docs.canonical_json?.cases ?? []).slice(0, 40)) {
  if ('canonical' in c) storeValues.push(c.canonical);
  if ('input_text' in c) storeValues.push(c.input_text);
}
for (const [i, value] of storeValues.entries()) {
  add('store_records', storeRecord('e2ee_olm_sessions', `curve\0session${i}`, value, [i, 3, 7]));
}
add('store_records', storeRecord('e2ee_account', 'account', 'x'.repeat(300), [1, 0x80, 2]));
add('store_records', storeRecord('outbox', Buffer.alloc(0), '[1,2,3]'));

// e2ee_intake_fuzz.cpp: the first byte picks the mode (0 to-device JSON, 1 room event JSON,
// 2 Olm body, 3 Megolm ciphertext, 4 a chosen plaintext {type, content} sent over Olm).
const e2eeSeeds = [
  [0, {type: 'm.room.encrypted', sender: '@0x00:hs', content: {algorithm: 'm.olm.v1.curve25519-aes-sha2', sender_key: 'AAAA', ciphertext: {}}}],
  [0, {type: 'm.room_key', sender: '@0x00:hs', content: {}}],
  [1, {type: 'm.room.encrypted', room_id: '!dm:hs.fuzz', sender: '@0x00:hs', event_id: '$x', content: {algorithm: 'm.megolm.v1.aes-sha2', session_id: 'x', ciphertext: 'AwgA'}}],
  [2, '\x00AwogAAAA'], [2, '\x01AwogAAAA'], [3, 'AwgAEhAAAA'],
  [4, {type: 'm.room_key', content: {algorithm: 'm.megolm.v1.aes-sha2', room_id: '!dm:hs.fuzz', session_id: 'x', session_key: 'AgAAAAA'}}],
  [4, {type: 'm.forwarded_room_key', content: {}}], [4, {type: 'm.dummy', content: {}}],
  [4, {type: 'network.raiden.envelopes', content: {envelopes: []}}],
];
for (const [mode, body] of e2eeSeeds) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  add('e2ee_intake', Buffer.concat([Buffer.from([mode]), Buffer.from(text, 'utf8')]));
}

// matrix_response_fuzz.cpp: 2 bytes of status, a Retry-After value up to NUL, the body.
for (const [status, retry, body] of [
  [200, '', '{}'], [200, '', '{"next_batch":"s1","rooms":{"join":{}}}'], [200, '', '[]'],
  [429, '', '{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":250}'],
  [429, '2', '{"errcode":"M_LIMIT_EXCEEDED"}'], [401, '', '{"errcode":"M_UNKNOWN_TOKEN","error":"x"}'],
  [502, '', '<html>bad gateway</html>'], [200, '', '{"a":1.5e3}'],
]) {
  add('matrix_response', Buffer.concat([Buffer.from([status >> 8, status & 0xff]),
                                        Buffer.from(retry + '\0' + body, 'utf8')]));
}
// sync_batch_fuzz.cpp: a /sync answer as JSON text.
{
  const me = '@0x1111111111111111111111111111111111111111:hs';
  const lower = '@0x0000000000000000000000000000000000000001:hs';
  const dmState = [
    {type: 'm.room.create', state_key: '', sender: lower, origin_server_ts: 1, content: {}},
    {type: 'm.room.member', state_key: lower, sender: lower, content: {membership: 'join'}},
    {type: 'm.room.member', state_key: me, sender: lower, content: {membership: 'invite'}},
    {type: 'm.room.join_rules', state_key: '', sender: lower, content: {join_rule: 'invite'}},
    {type: 'm.room.encryption', state_key: '', sender: lower, content: {algorithm: 'm.megolm.v1.aes-sha2'}},
    {type: 'network.raiden.dm', state_key: '', sender: lower, content: {addresses: [lower.slice(1, 43), me.slice(1, 43)]}},
  ];
  for (const body of [
    {next_batch: 's1'},
    {next_batch: 's2', to_device: {events: [{type: 'm.room.encrypted', sender: lower, content: {}}]},
     device_lists: {changed: [lower], left: []}, device_one_time_keys_count: {signed_curve25519: 3},
     device_unused_fallback_key_types: ['signed_curve25519']},
    {next_batch: 's3', rooms: {join: {'!dm:hs': {state: {events: dmState}, timeline: {events: [
      {type: 'm.room.encrypted', sender: lower, event_id: '$e', content: {algorithm: 'm.megolm.v1.aes-sha2'}},
      {type: 'm.room.member', state_key: me, sender: me, content: {membership: 'join'}}]}}},
     invite: {'!i:hs': {invite_state: {events: dmState}}}, leave: {'!l:hs': {}}}},
  ]) {
    add('sync_batch', Buffer.from(JSON.stringify(body), 'utf8'));
    // oversized_element_filter_fuzz.cpp: byte 0 the element limit, byte 1 the chunk size.
    for (const [limit, chunk] of [[40, 1], [200, 7], [255, 15]]) {
      add('oversized_element_filter',
          Buffer.concat([Buffer.from([limit, chunk]), Buffer.from(JSON.stringify(body, null, 1), 'utf8')]));
    }
  }
}
// capabilities_fuzz.cpp: what Raiden's clients publish, and the JSON form.
for (const seed of [
  'mxc://raiden.network/cap?Receive=1&Mediate=1&Delivery=1&webRTC=1&toDevice=1&immutableMetadata=1',
  'mxc://raiden.network/cap?Delivery=0&randomCap=test&k=a&k=b', 'mxc://', 'mxc://matrix.org/AbCd',
  'mxc://raiden.network/cap?a%26b%3Dc=x+y%25&%C3%BC=%E6%97%A5&flag&&=1',
  '{"Receive":true,"Mediate":false,"fee":12,"k":["a","b",1,true]}', '{"k":1.5}',
]) add('capabilities', seed);
// live_challenge_fuzz.cpp: our user id is @<the key 0x…07's address>:fuzz.example.
{
  const me = `@0x${hex(addressOf(unhex('00'.repeat(31) + '07')))}:fuzz.example`;
  const other = '@0x00000000000000000000000000000000000000aa:fuzz.example';
  const nonce = 'ab'.repeat(32);
  add('live_challenge', JSON.stringify({ challenge: nonce, challenger: other, target: me }));
  add('live_challenge', JSON.stringify({ challenge: nonce, challenger: me, target: other,
    signature: `0x${'11'.repeat(65)}` }));
}
// devserver_request_fuzz.cpp: byte 0 = method (bits 0-2), valid token (bit 3), junk token
// (bit 4), "/_matrix/client/v3/" prefix (bit 5); then the target up to a newline, then the body.
for (const [flags, target, body] of [
  [0x20 | 0x08 | 0, 'sync?timeout=0', ''], [0x20 | 0x08 | 1, 'rooms/$ROOM/send/m.room.message/t1', '{"body":"x"}'],
  [0x20 | 1, 'login', '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"x"},"password":"0x00"}'],
  [0x20 | 0x08 | 1, 'keys/upload', '{"one_time_keys":{}}'], [0x20 | 0x08 | 1, 'keys/query', '{"device_keys":{"$ME":[]}}'],
  [0x20 | 0x08 | 1, 'createRoom', '{"preset":"private_chat","is_direct":true}'],
  [0x20 | 0x10 | 0, 'account/whoami', ''], [0, '/_matrix/client/versions', ''],
]) {
  add('devserver_request', Buffer.concat([Buffer.from([flags]), Buffer.from(`${target}\n${body}`, 'utf8')]));
}

// ---- small hand-made inputs ------------------------------------------------------------------
for (const s of ['', '0x', '0X00', '0xdeadBEEF', 'deadbeef', '0xabc', 'QQ', 'QUI=', 'QUJD', 'QQ==',
                 'QR', 'A===', '+/+/', '-_']) {
  add('hex_base64', s);
}
for (const s of ['@0x00000000000000000000000000000000000000aa:fuzz.example', '@:x', '@0x:',
                 '0x52908400098527886E0F7030069857D2E4169EE7',
                 '0x52908400098527886e0f7030069857d2e4169ee7']) {
  add('address_userid', s);
}

// ---- write ------------------------------------------------------------------------------------
for (const target of TARGETS) {
  const dir = join(outDir, target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of corpora[target]) writeFileSync(join(dir, name), bytes);
  console.log(`${target}: ${corpora[target].size} seeds in ${dir}`);
}
