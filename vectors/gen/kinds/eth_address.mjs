// eth_address vectors: private key -> EIP-55 address.
// Expected: ethers `new Wallet(pk).address`; checked against @noble/curves 2.x public key +
// @noble/hashes keccak + an EIP-55 implementation written here, and against ethers' getAddress.
import { Wallet, getAddress } from 'ethers';
import { SECP_N, hex, bigToBytes32, seedKey, assertEq } from '../lib/common.mjs';
import { nobleAddress, eip55 } from '../lib/eth_noble.mjs';

export const FAMOUS_KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318';

export function generate() {
  const cases = [];
  const add = (pkBytes, comment) => {
    const pk = hex(pkBytes);
    const a = new Wallet(pk).address;
    const lower = nobleAddress(pkBytes);
    assertEq(a.toLowerCase(), lower, `noble vs ethers address (${comment})`);
    assertEq(eip55(lower), a, `EIP-55 (${comment})`);
    assertEq(getAddress(lower), a, `ethers getAddress (${comment})`);
    cases.push({ comment, private_key: pk, address: a });
  };
  add(bigToBytes32(1n), 'private key 1 (public key = generator G)');
  add(bigToBytes32(2n), 'private key 2');
  add(bigToBytes32(3n), 'private key 3');
  add(bigToBytes32(SECP_N - 1n), 'private key n-1 (public key = -G)');
  add(bigToBytes32(SECP_N - 2n), 'private key n-2');
  add(bigToBytes32(1n << 128n), 'private key 2^128 (leading zero bytes)');
  add(bigToBytes32(0xffn), 'private key 0xff (31 leading zero bytes)');
  add(bigToBytes32(BigInt(FAMOUS_KEY)), 'well-known documentation key (web3.js docs)');
  for (let i = 0; i < 20; i++) add(seedKey('eth_address', i), `pseudo-random key #${i}`);
  // Sanity: the documented address of the famous key.
  assertEq(new Wallet(FAMOUS_KEY).address, '0x2c7536E3605D9C16a7a3D7b1898e529396a65c23', 'famous key address');
  return { kind: 'eth_address', cases };
}
