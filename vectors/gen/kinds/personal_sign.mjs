// personal_sign vectors (EIP-191 0x45, RFC 6979, low-S, v in {27,28}), byte-exact.
// Expected: ethers `Wallet.signMessageSync(bytes)`; must equal @noble/curves 2.x signing the
// EIP-191 hash with RFC 6979 / low-S, and must verify (ethers verifyMessage and noble recovery).
import { Wallet, verifyMessage } from 'ethers';
import { SECP_N, HALF_N, hex, utf8, bigToBytes32, seedBytes, seedKey, assert, assertEq } from '../lib/common.mjs';
import { nobleSign, expectedRecover, nobleAddress } from '../lib/eth_noble.mjs';
import { FAMOUS_KEY } from './eth_address.mjs';

export function ethersPersonalSign(pkHex, data) {
  return new Wallet(pkHex).signMessageSync(data);
}

// Sign with both libraries, insist they agree byte for byte, and that it verifies.
export function crossSign(pkBytes, data, what) {
  const pk = hex(pkBytes);
  const sigE = ethersPersonalSign(pk, data);
  const sigN = hex(nobleSign(pkBytes, data));
  assertEq(sigE, sigN, `ethers vs noble personal_sign (${what})`);
  assert(/^0x[0-9a-f]{130}$/.test(sigE), `signature format (${what})`);
  const v = parseInt(sigE.slice(130), 16);
  assert(v === 27 || v === 28, `v in {27,28} (${what})`);
  assert(BigInt('0x' + sigE.slice(66, 130)) <= HALF_N, `low S (${what})`);
  const addr = nobleAddress(pkBytes);
  assertEq(verifyMessage(data, sigE).toLowerCase(), addr, `ethers verifyMessage (${what})`);
  assertEq(expectedRecover(data, sigE), addr, `noble recovery (${what})`);
  return sigE;
}

export function personalSignMessages() {
  const m = [];
  const add = (data, comment) => m.push({ data, comment });
  add(new Uint8Array(0), 'empty message (length prefix "0")');
  add(utf8('hello'), '"hello"');
  add(utf8('localhost'), '"localhost" (a Matrix server name)');
  add(utf8('Grüße, 世界! 🦊'), 'UTF-8 text with 2-, 3- and 4-byte characters (length counts bytes, not characters)');
  add(Uint8Array.of(0x00), 'single 0x00 byte');
  add(Uint8Array.of(0xff), 'single 0xff byte');
  add(Uint8Array.of(0x00, 0xff, 0x00, 0x80, 0x7f, 0xc0, 0xaf, 0xed, 0xa0, 0x80), 'binary bytes incl. 0x00, 0xff and invalid UTF-8');
  add(utf8('\x19Ethereum Signed Message:\n5hello'), 'message that itself contains an EIP-191 prefix');
  for (const n of [9, 10, 99, 100, 1000]) add(seedBytes('personal_sign/len', n, n), `${n} pseudo-random bytes (decimal length has ${String(n).length} digits)`);
  add(seedBytes('personal_sign/hash-like', 0, 32), '32-byte message that looks like a hash (still prefixed with "32")');
  return m;
}

export function generate() {
  const keys = [
    [bigToBytes32(1n), 'key 1'],
    [bigToBytes32(SECP_N - 1n), 'key n-1'],
    [Buffer.from(FAMOUS_KEY.slice(2), 'hex'), 'documentation key 0x4c08...2318'],
    [seedKey('personal_sign', 0), 'pseudo-random key #0'],
    [seedKey('personal_sign', 1), 'pseudo-random key #1'],
  ];
  const msgs = personalSignMessages();
  const cases = [];
  const seenV = new Set();
  msgs.forEach((msg, i) => {
    // every message with two different keys, rotating through the key list
    for (const k of [keys[i % keys.length], keys[(i + 2) % keys.length]]) {
      const sig = crossSign(k[0], msg.data, `${msg.comment}, ${k[1]}`);
      seenV.add(sig.slice(130));
      cases.push({ comment: `${msg.comment}; ${k[1]}`, private_key: hex(k[0]), message: hex(msg.data), signature: sig });
    }
  });
  assert(seenV.has('1b') && seenV.has('1c'), 'both v=27 and v=28 occur');
  return { kind: 'personal_sign', cases };
}
