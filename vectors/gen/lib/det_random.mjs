// Deterministic "randomness" for libraries that draw their own (vodozemac inside
// @matrix-org/matrix-sdk-crypto-wasm, libolm in @matrix-org/olm): while installed, every call
// of globalThis.crypto.getRandomValues and of node:crypto's randomBytes / randomFillSync is
// answered from the stream keccak256("mrt-vectors:<label>:<n>:0"), n = 0, 1, 2, … (see
// seedBytes in common.mjs). The libraries' keys, ratchets and one-time keys then depend only
// on the code and on the order of their calls. For test vectors only.
import nodeCrypto from 'node:crypto';
import { seedBytes } from './common.mjs';

export function installDeterministicRandom(label) {
  let counter = 0;
  let pool = new Uint8Array(0);
  let drawn = 0;
  const take = (n) => {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (pool.length === 0) pool = seedBytes(label, counter++);
      const k = Math.min(pool.length, n - filled);
      out.set(pool.subarray(0, k), filled);
      pool = pool.subarray(k);
      filled += k;
    }
    drawn += n;
    return out;
  };
  const fill = (view) => {
    new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(take(view.byteLength));
    return view;
  };
  const webcrypto = globalThis.crypto;
  const saved = {
    getRandomValues: Object.getOwnPropertyDescriptor(webcrypto, 'getRandomValues'),
    randomBytes: nodeCrypto.randomBytes,
    randomFillSync: nodeCrypto.randomFillSync,
  };
  Object.defineProperty(webcrypto, 'getRandomValues', { value: fill, configurable: true, writable: true });
  nodeCrypto.randomBytes = (n, cb) => {
    if (cb) throw new Error('deterministic randomBytes: async form not supported');
    return Buffer.from(take(n));
  };
  nodeCrypto.randomFillSync = (buf, offset = 0, size) => {
    const view = new Uint8Array(buf.buffer ?? buf, buf.byteOffset ?? 0, buf.byteLength);
    const n = size ?? view.length - offset;
    view.set(take(n), offset);
    return buf;
  };
  return {
    drawn: () => drawn,
    restore() {
      if (saved.getRandomValues) Object.defineProperty(webcrypto, 'getRandomValues', saved.getRandomValues);
      else delete webcrypto.getRandomValues;
      nodeCrypto.randomBytes = saved.randomBytes;
      nodeCrypto.randomFillSync = saved.randomFillSync;
    },
  };
}
