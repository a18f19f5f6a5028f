// A deliberately plain, slow reference Keccak-256 (original 0x01 padding), written from the
// Keccak specification with BigInt lanes. Used only as a third, independent check of the
// keccak256 vectors (next to @noble/hashes 2.x and ethers' bundled @noble/hashes 1.x).
const MASK = (1n << 64n) - 1n;
const ROUNDS = 24;

// Round constants from the LFSR of the Keccak reference (computed, not copied).
function roundConstants() {
  const rc = [];
  let R = 1;
  const lfsr = () => {
    const bit = R & 1;
    R = R & 0x80 ? ((R << 1) ^ 0x71) & 0xff : (R << 1) & 0xff;
    return bit;
  };
  for (let i = 0; i < ROUNDS; i++) {
    let c = 0n;
    for (let j = 0; j < 7; j++) if (lfsr()) c |= 1n << BigInt((1 << j) - 1);
    rc.push(c);
  }
  return rc;
}
const RC = roundConstants();

// Rotation offsets r[x][y] computed as in the specification (t from 0..23 over (x,y) walk).
function rotationOffsets() {
  const r = Array.from({ length: 5 }, () => Array(5).fill(0));
  let x = 1;
  let y = 0;
  for (let t = 0; t < 24; t++) {
    r[x][y] = (((t + 1) * (t + 2)) / 2) % 64;
    [x, y] = [y, (2 * x + 3 * y) % 5];
  }
  return r;
}
const ROT = rotationOffsets();

const rotl = (v, n) => (n === 0 ? v : ((v << BigInt(n)) | (v >> BigInt(64 - n))) & MASK);

function keccakF(A) {
  // A[x + 5y]
  for (let round = 0; round < ROUNDS; round++) {
    const C = [0, 1, 2, 3, 4].map((x) => A[x] ^ A[x + 5] ^ A[x + 10] ^ A[x + 15] ^ A[x + 20]);
    const D = [0, 1, 2, 3, 4].map((x) => C[(x + 4) % 5] ^ rotl(C[(x + 1) % 5], 1));
    for (let i = 0; i < 25; i++) A[i] ^= D[i % 5];
    const B = Array(25).fill(0n);
    for (let x = 0; x < 5; x++)
      for (let y = 0; y < 5; y++) B[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(A[x + 5 * y], ROT[x][y]);
    for (let x = 0; x < 5; x++)
      for (let y = 0; y < 5; y++)
        A[x + 5 * y] = B[x + 5 * y] ^ (~B[((x + 1) % 5) + 5 * y] & MASK & B[((x + 2) % 5) + 5 * y]);
    A[0] ^= RC[round];
  }
}

export function refKeccak256(data) {
  const rate = 136;
  const padded = new Uint8Array(Math.floor(data.length / rate) * rate + rate);
  padded.set(data);
  padded[data.length] ^= 0x01;
  padded[padded.length - 1] ^= 0x80;
  const A = Array(25).fill(0n);
  for (let off = 0; off < padded.length; off += rate) {
    for (let i = 0; i < rate / 8; i++) {
      let lane = 0n;
      for (let b = 7; b >= 0; b--) lane = (lane << 8n) | BigInt(padded[off + 8 * i + b]);
      A[i] ^= lane;
    }
    keccakF(A);
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 4; i++) for (let b = 0; b < 8; b++) out[8 * i + b] = Number((A[i] >> BigInt(8 * b)) & 0xffn);
  return out;
}
