// ecrecover vectors: data + signature string -> lowercase address, or null when the protocol
// refuses the signature (PROTOCOL.md §1: v in {0,1,27,28}, low S, 0 < r,s < n, "0x" + 130
// lowercase hex, recovery must give a key).
// Expected values: lib/eth_noble.mjs expectedRecover (protocol rules + @noble/curves 2.x point
// arithmetic); every non-null answer is re-checked with ethers recoverAddress (its bundled
// @noble 1.x), and every answer with noble's high-level secp256k1.recoverPublicKey.
import { recoverAddress, hashMessage } from 'ethers';
import { SECP_N, SECP_P, HALF_N, hex, utf8, bigToBytes32, seedBytes, seedKey, concat, assert, assertEq } from '../lib/common.mjs';
import { nobleSign, nobleAddress, expectedRecover, eip191Hash, isCurveX, Point, modInv, secp256k1, addressFromPoint } from '../lib/eth_noble.mjs';

const h64 = (x) => x.toString(16).padStart(64, '0');
const mk = (r, s, v) => '0x' + h64(r) + h64(s) + v.toString(16).padStart(2, '0');
const split = (sig) => ({ r: BigInt('0x' + sig.slice(2, 66)), s: BigInt('0x' + sig.slice(66, 130)), v: parseInt(sig.slice(130, 132), 16) });

function nobleHighLevel(data, sig) {
  // noble's own recoverPublicKey (recovered format = recid || r || s), protocol checks applied
  const m = /^0x[0-9a-f]{130}$/.exec(sig);
  if (!m) return null;
  const { r, s, v } = split(sig);
  const recid = v === 0 || v === 1 ? v : v === 27 || v === 28 ? v - 27 : -1;
  if (recid < 0 || s > HALF_N) return null;
  try {
    const rec = concat(Uint8Array.of(recid), bigToBytes32(r), bigToBytes32(s));
    const pub = secp256k1.recoverPublicKey(rec, eip191Hash(data), { prehash: false });
    return addressFromPoint(Point.fromBytes(pub));
  } catch {
    return null;
  }
}

export function generate() {
  const cases = [];
  const add = (data, signature, comment, mustBe) => {
    const address = expectedRecover(data, signature);
    if (mustBe !== undefined) assertEq(address, mustBe, `expected result (${comment})`);
    assertEq(nobleHighLevel(data, signature), address, `noble high-level recovery (${comment})`);
    if (address !== null) {
      const viaEthers = recoverAddress(hashMessage(data), signature).toLowerCase();
      assertEq(viaEthers, address, `ethers recoverAddress (${comment})`);
    }
    cases.push({ comment, message: hex(data), signature, address });
  };

  // Valid signatures: collect at least three with v=27 and three with v=28.
  const valid = { 27: [], 28: [] };
  for (let i = 0; valid[27].length < 3 || valid[28].length < 3; i++) {
    const pk = seedKey('ecrecover', i);
    const data = seedBytes('ecrecover/msg', i, 1 + (i * 13) % 70);
    const sig = hex(nobleSign(pk, data));
    const v = parseInt(sig.slice(130), 16);
    if (valid[v].length < 3) valid[v].push({ pk, data, sig, addr: nobleAddress(pk), i });
  }
  const all = [...valid[27], ...valid[28]];
  for (const c of all) add(c.data, c.sig, `valid signature, v=${split(c.sig).v} (key #${c.i})`, c.addr);

  // v = 0 / 1 spellings of the same signatures: accepted, same address.
  for (const c of all) {
    const { r, s, v } = split(c.sig);
    add(c.data, mk(r, s, v - 27), `valid signature with v=${v - 27} instead of ${v}: same address`, c.addr);
  }

  const base27 = valid[27][0];
  const base28 = valid[28][0];
  const b = split(base27.sig);
  const b28 = split(base28.sig);

  // High-S twin (s' = n - s, recovery bit flipped): same key mathematically, refused.
  for (const c of [base27, base28]) {
    const { r, s, v } = split(c.sig);
    add(c.data, mk(r, SECP_N - s, v === 27 ? 28 : 27), `high-S twin of a valid signature (s' = n - s, v flipped ${v}->${v === 27 ? 28 : 27}): refused`, null);
    add(c.data, mk(r, SECP_N - s, v === 27 ? 1 : 0), `high-S twin with v=${v === 27 ? 1 : 0}: refused`, null);
  }

  // r / s range.
  add(base27.data, mk(0n, b.s, 27), 'r = 0', null);
  add(base27.data, mk(b.r, 0n, 27), 's = 0', null);
  add(base27.data, mk(0n, 0n, 27), 'r = s = 0', null);
  add(base27.data, mk(SECP_N, b.s, 27), 'r = n', null);
  add(base27.data, mk(b.r, SECP_N, 27), 's = n', null);
  add(base27.data, mk(SECP_N + 1n, b.s, 27), 'r = n + 1', null);
  add(base27.data, mk((1n << 256n) - 1n, b.s, 27), 'r = 2^256 - 1', null);
  add(base27.data, mk(b.r, (1n << 256n) - 1n, 27), 's = 2^256 - 1', null);
  add(base27.data, mk(b.r, SECP_N + 1n, 27), 's = n + 1 (s mod n = 1 would be valid)', null);
  // r >= n that is nevertheless the x-coordinate of a curve point (n <= r < p).
  let rBig = SECP_N + 1n;
  while (!isCurveX(rBig)) rBig++;
  assert(rBig < SECP_P, 'found x in [n, p)');
  add(base27.data, mk(rBig, b.s, 27), `r = n + ${rBig - SECP_N}: a curve x-coordinate, but r >= n`, null);

  // r that is not the x-coordinate of any point (x^3 + 7 not a square mod p).
  let noX = b.r;
  while (isCurveX(noX)) noX++;
  add(base27.data, mk(noX, b.s, 27), 'r is not the x-coordinate of any curve point (x^3+7 is not a square mod p)', null);
  add(base27.data, mk(noX, b.s, 28), 'same with v=28', null);
  let smallNoX = 1n;
  while (isCurveX(smallNoX)) smallNoX++;
  add(base27.data, mk(smallNoX, b.s, 27), `r = ${smallNoX}: smallest r with no curve point`, null);

  // Wrong v values.
  for (const v of [2, 3, 4, 26, 29, 30, 31, 35, 37, 127, 128, 255]) add(base27.data, mk(b.r, b.s, v), `v = ${v}`, null);

  // Lengths and encodings.
  const s27 = base27.sig;
  add(base27.data, s27.slice(0, 130), '64 bytes (r || s, no v)', null);
  add(base27.data, s27 + '00', '66 bytes (valid signature + 0x00)', null);
  add(base27.data, s27 + '1b', '66 bytes (valid signature + 0x1b)', null);
  add(base27.data, '0x', 'empty signature "0x"', null);
  add(base27.data, '', 'empty string', null);
  add(base27.data, s27.slice(0, 131), 'odd length: 129 hex digits', null);
  add(base27.data, s27 + '0', 'odd length: 131 hex digits', null);
  add(base27.data, s27.slice(2), 'missing 0x prefix (130 hex digits)', null);
  add(base27.data, '0X' + s27.slice(2), '"0X" prefix', null);
  add(base27.data, '0x' + s27.slice(2).toUpperCase(), 'all hex digits uppercase', null);
  {
    const body = s27.slice(2);
    const idx = body.search(/[a-f]/);
    assert(idx >= 0, 'signature has a letter digit');
    const one = '0x' + body.slice(0, idx) + body[idx].toUpperCase() + body.slice(idx + 1);
    add(base27.data, one, `one uppercase hex digit (position ${idx})`, null);
    add(base27.data, '0x' + body.slice(0, 128) + '1B', 'uppercase in v only ("1B")', null);
    add(base27.data, '0x' + body.slice(0, 40) + 'g' + body.slice(41), 'non-hex character "g"', null);
    add(base27.data, '0x' + body.slice(0, 40) + ' ' + body.slice(41), 'space inside', null);
    add(base27.data, ' ' + s27, 'leading space', null);
    add(base27.data, s27 + '\n', 'trailing newline', null);
    add(base27.data, '0x0x' + body.slice(2), 'doubled "0x" prefix', null);
  }

  // A valid signature over a different message recovers some other address (not null).
  {
    const other = utf8('a different message');
    const addr = expectedRecover(other, base27.sig);
    assert(addr !== null && addr !== base27.addr, 'different message recovers another address');
    add(other, base27.sig, 'valid signature of another message: recovers some other address (a mismatch, not an error)', addr);
    const addr2 = expectedRecover(base28.data.slice(1), base28.sig);
    add(base28.data.slice(1), base28.sig, 'valid signature, message with its first byte removed: recovers some other address', addr2);
  }

  // Arbitrary (r, s) with r a curve x-coordinate recover *some* key: boundary values accepted.
  add(base27.data, mk(b.r, HALF_N, 27), 's = (n-1)/2, the largest low S: accepted (recovers some address)');
  add(base27.data, mk(b.r, HALF_N + 1n, 27), 's = (n-1)/2 + 1, the smallest high S: refused', null);
  add(base27.data, mk(b.r, 1n, 28), 's = 1: accepted (recovers some address)');
  let rOne = 1n;
  while (!isCurveX(rOne)) rOne++;
  add(base27.data, mk(rOne, b.s, 27), `r = ${rOne}, the smallest valid x-coordinate: accepted`);
  let rTop = SECP_N - 1n;
  while (!isCurveX(rTop)) rTop--;
  add(base27.data, mk(rTop, b28.s, 28), `r = n - ${SECP_N - rTop}, the largest valid r: accepted`);

  // Point at infinity: a "signature" by private key 0 (s = e / k) recovers Q = O.
  {
    const data = utf8('infinity');
    const e = BigInt(hex(eip191Hash(data))) % SECP_N;
    const k = BigInt(hex(seedBytes('ecrecover/infinity', 0))) % SECP_N;
    const R = Point.BASE.multiply(k);
    let r = R.x % SECP_N;
    let s = (e * modInv(k, SECP_N)) % SECP_N;
    let odd = R.y & 1n;
    if (s > HALF_N) {
      s = SECP_N - s;
      odd ^= 1n;
    }
    add(data, mk(r, s, 27 + Number(odd)), 'recovers the point at infinity (signature by key 0, s = e/k): refused', null);
  }

  const v27 = cases.filter((c) => c.address && c.signature.endsWith('1b')).length;
  const v28 = cases.filter((c) => c.address && c.signature.endsWith('1c')).length;
  assert(v27 >= 3 && v28 >= 3, 'valid v=27 and v=28 both present');
  return { kind: 'ecrecover', cases };
}
