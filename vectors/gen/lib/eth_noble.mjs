// Ethereum primitives of PROTOCOL.md §1 built on @noble/curves 2.x + @noble/hashes 2.x only
// (ethers v6 bundles its own, older @noble copies; the generators compare the two).
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { SECP_N, HALF_N, concat, utf8, hex, bytesToBig, bigToBytes32 } from './common.mjs';

export const Point = secp256k1.Point;

export function eip191Hash(data) {
  return keccak_256(concat(utf8(`\x19Ethereum Signed Message:\n${data.length}`), data));
}

export function addressFromPoint(P) {
  const unc = P.toBytes(false); // 0x04 || X || Y
  return hex(keccak_256(unc.slice(1)).slice(12));
}

export function nobleAddress(privateKey) {
  return hex(keccak_256(secp256k1.getPublicKey(privateKey, false).slice(1)).slice(12));
}

// EIP-55 checksum, written from the EIP text.
export function eip55(lowerAddr) {
  if (!/^0x[0-9a-f]{40}$/.test(lowerAddr)) throw new Error(`not a lowercase address: ${lowerAddr}`);
  const digits = lowerAddr.slice(2);
  const h = Buffer.from(keccak_256(utf8(digits))).toString('hex');
  let out = '0x';
  for (let i = 0; i < 40; i++) out += parseInt(h[i], 16) >= 8 ? digits[i].toUpperCase() : digits[i];
  return out;
}

// personal_sign: RFC 6979, low-S, r || s || v with v in {27, 28}.
export function nobleSign(privateKey, data) {
  const rec = secp256k1.sign(eip191Hash(data), privateKey, {
    prehash: false,
    lowS: true,
    extraEntropy: false,
    format: 'recovered',
  });
  // noble's 'recovered' format is recovery(1) || r(32) || s(32)
  return concat(rec.slice(1, 65), Uint8Array.of(27 + rec[0]));
}

// Parse "0x" + 130 lowercase hex per PROTOCOL.md §1; returns {r, s, v} or null.
export function parseSigString(sig) {
  if (typeof sig !== 'string' || !/^0x[0-9a-f]{130}$/.test(sig)) return null;
  return {
    r: BigInt('0x' + sig.slice(2, 66)),
    s: BigInt('0x' + sig.slice(66, 130)),
    v: parseInt(sig.slice(130, 132), 16),
  };
}

// Recovery with noble's Point arithmetic, applying the protocol's acceptance rules.
// Returns the lowercase address, or null for anything the protocol refuses.
export function expectedRecover(data, sig) {
  const p = parseSigString(sig);
  if (!p) return null;
  const { r, s, v } = p;
  let recid;
  if (v === 0 || v === 1) recid = v;
  else if (v === 27 || v === 28) recid = v - 27;
  else return null;
  if (r < 1n || r >= SECP_N || s < 1n || s >= SECP_N) return null;
  if (s > HALF_N) return null; // high-S refused
  let R;
  try {
    R = Point.fromBytes(concat(Uint8Array.of(recid === 0 ? 2 : 3), bigToBytes32(r)));
  } catch {
    return null; // no curve point with x = r
  }
  const e = bytesToBig(eip191Hash(data)) % SECP_N;
  const rinv = modInv(r, SECP_N);
  const u1 = mod(-e * rinv, SECP_N);
  const u2 = mod(s * rinv, SECP_N);
  const Q = addOrZero(mulOrZero(Point.BASE, u1), mulOrZero(R, u2));
  if (Q === null) return null; // point at infinity
  return addressFromPoint(Q);
}

const mod = (a, m) => ((a % m) + m) % m;
export function modInv(a, m) {
  let [old_r, r] = [mod(a, m), m];
  let [old_s, s] = [1n, 0n];
  while (r !== 0n) {
    const q = old_r / r;
    [old_r, r] = [r, old_r - q * r];
    [old_s, s] = [s, old_s - q * s];
  }
  if (old_r !== 1n) throw new Error('not invertible');
  return mod(old_s, m);
}
function mulOrZero(P, k) {
  return k === 0n ? null : P.multiply(k);
}
function addOrZero(A, B) {
  if (A === null) return B;
  if (B === null) return A;
  const S = A.add(B);
  return S.is0() ? null : S;
}

// True iff x (< p) is the x-coordinate of a curve point.
export function isCurveX(x) {
  try {
    Point.fromBytes(concat(Uint8Array.of(2), bigToBytes32(x)));
    return true;
  } catch {
    return false;
  }
}

export { keccak_256, secp256k1 };
