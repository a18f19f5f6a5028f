#!/usr/bin/env node
// Regenerates every conformance-vector file in vectors/ (see README.md), then re-checks them
// with check.mjs. Deterministic: running it twice gives byte-identical files.
//   node vectors/gen/all.mjs            # all kinds
//   node vectors/gen/all.mjs keccak256  # only the named kinds
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serialize } from './lib/common.mjs';
import { checkFile } from './check.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.resolve(here, '..');

const KINDS = ['keccak256', 'eth_address', 'personal_sign', 'ecrecover', 'canonical_json', 'matrix_identity', 'attestation', 'envelope', 'keystore_v3', 'megolm_decrypt'];

const wanted = process.argv.slice(2);
for (const w of wanted) if (!KINDS.includes(w)) throw new Error(`unknown kind ${w}; known: ${KINDS.join(', ')}`);

for (const kind of wanted.length ? wanted : KINDS) {
  const t0 = Date.now();
  const mod = await import(`./kinds/${kind}.mjs`);
  const out = await mod.generate();
  if (out.kind !== kind) throw new Error(`generator ${kind} returned kind ${out.kind}`);
  const text = serialize({ kind: out.kind, cases: out.cases });
  const file = path.join(outDir, `${kind}.json`);
  fs.writeFileSync(file, text);
  const checked = await checkFile(file);
  console.log(`${path.relative(process.cwd(), file)}: ${out.cases.length} cases, ${text.length} bytes, checked ${checked} (${Date.now() - t0} ms)`);
}
