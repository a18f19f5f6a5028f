// matrix_identity vectors (PROTOCOL.md §2): user id, login password and displayname.
// Expected: ethers (Wallet.address, signMessageSync); cross-checked with @noble/curves 2.x.
import { Wallet } from 'ethers';
import { SECP_N, hex, utf8, bigToBytes32, seedKey, assertEq } from '../lib/common.mjs';
import { nobleAddress } from '../lib/eth_noble.mjs';
import { crossSign } from './personal_sign.mjs';
import { FAMOUS_KEY } from './eth_address.mjs';

const SERVERS = ['localhost', 'matrix.example.org', 'localhost:8008', 'transport.raiden.network', '127.0.0.1:8448', '[::1]:8448'];

export function generate() {
  const keys = [
    [bigToBytes32(1n), 'key 1'],
    [Buffer.from(FAMOUS_KEY.slice(2), 'hex'), 'documentation key'],
    [bigToBytes32(SECP_N - 1n), 'key n-1'],
    [seedKey('matrix_identity', 0), 'pseudo-random key #0'],
    [seedKey('matrix_identity', 1), 'pseudo-random key #1'],
    [seedKey('matrix_identity', 2), 'pseudo-random key #2'],
  ];
  const cases = [];
  keys.forEach(([pk, kname], i) => {
    for (const server of [SERVERS[i % SERVERS.length], SERVERS[(i + 1) % SERVERS.length]]) {
      const w = new Wallet(hex(pk));
      const lower = w.address.toLowerCase();
      assertEq(lower, nobleAddress(pk), 'noble vs ethers address');
      const userId = `@${lower}:${server}`;
      const password = crossSign(pk, utf8(server), `password ${kname} ${server}`);
      const displayname = crossSign(pk, utf8(userId), `displayname ${kname} ${server}`);
      assertEq(w.signMessageSync(server), password, 'ethers string signMessage = bytes signMessage');
      cases.push({
        comment: `${kname} on ${server}`,
        private_key: hex(pk),
        server_name: server,
        user_id: userId,
        password,
        displayname,
      });
    }
  });
  return { kind: 'matrix_identity', cases };
}
