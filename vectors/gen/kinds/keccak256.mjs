// keccak256 vectors: lengths around the 136-byte rate, plus known answers.
// Expected hashes: @noble/hashes 2.x, checked against ethers' keccak256 (bundled
// @noble/hashes 1.x) and against the plain reference implementation in lib/ref_keccak.mjs.
import { keccak256 as ethersKeccak } from 'ethers';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { refKeccak256 } from '../lib/ref_keccak.mjs';
import { hex, utf8, seedBytes, assertEq } from '../lib/common.mjs';

const EMPTY = '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470';
const ABC = '0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45';

export function generate() {
  const cases = [];
  const add = (input, comment, known) => {
    const h = hex(keccak_256(input));
    assertEq(ethersKeccak(input), h, `ethers keccak256 (${comment})`);
    assertEq(hex(refKeccak256(input)), h, `reference keccak256 (${comment})`);
    if (known) assertEq(h, known, `known answer (${comment})`);
    cases.push({ comment, input: hex(input), hash: h });
  };
  add(new Uint8Array(0), 'empty input (PROTOCOL.md §1 known answer)', EMPTY);
  add(utf8('abc'), '"abc"', ABC);
  add(utf8('The quick brown fox jumps over the lazy dog'), 'ASCII sentence',
    '0x4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15');
  add(new Uint8Array(1), 'one zero byte');
  add(Uint8Array.of(0xff), 'one 0xff byte');
  add(new Uint8Array(136).fill(0xff), '136 bytes of 0xff (exactly one rate block)');
  const lengths = [1, 31, 32, 33, 55, 56, 64, 127, 128, 135, 136, 137, 200, 271, 272, 273, 1000, 4096];
  for (const n of lengths) {
    const note =
      n === 135 ? ' (padding 0x01 and 0x80 share the last byte of the block)'
      : n === 136 ? ' (exactly one rate block: padding fills a whole extra block)'
      : n === 137 ? ' (one byte into the second block)'
      : n === 272 ? ' (exactly two rate blocks)'
      : '';
    add(seedBytes('keccak256', n, n), `${n} pseudo-random bytes${note}`);
  }
  return { kind: 'keccak256', cases };
}
