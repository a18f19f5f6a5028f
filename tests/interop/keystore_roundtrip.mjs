#!/usr/bin/env node
// Keystore interoperability between mrt and ethers v6 (Web3 Secret Storage v3).
//
//   node tests/interop/keystore_roundtrip.mjs --mrt <path to mrt> --case mrt-to-ethers
//   node tests/interop/keystore_roundtrip.mjs --mrt <path to mrt> --case ethers-to-mrt
//   (--keep keeps the temporary directory)
//
// mrt-to-ethers: `mrt key new --light` writes a keystore under a non-ASCII password; ethers
//   must open it with the password's raw UTF-8 bytes and find the printed address; the file
//   must have mode 0600.
// ethers-to-mrt: ethers encrypts a deterministic wallet (default scrypt parameters); `mrt key
//   show` must open it and print the address, the Matrix user id and the login password /
//   displayname signatures of PROTOCOL.md §2, equal to ethers' signMessage.
//
// Exit status 0 on success, 1 on failure (with a message on stderr), 2 on bad usage.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Wallet, HDNodeWallet, getAddress } from 'ethers';

// The password keeps its exact bytes: "ü" is written decomposed (u + U+0308) so that a
// reader that normalises (NFC/NFKC, as ethers does for *string* passwords) gets other bytes.
const PASSWORD = 'Gru\u0308\u00dfe \u{1F98A} pw';
const PASSWORD_BYTES = new TextEncoder().encode(PASSWORD);
const SERVER_NAME = 'localhost';
const MNEMONIC = 'test test test test test test test test test test test junk';
const MRT_TIMEOUT_MS = 60_000;

class Failure extends Error {}
const check = (cond, msg) => {
  if (!cond) throw new Failure(msg);
};

function usage(msg) {
  if (msg) console.error(`error: ${msg}`);
  console.error('usage: node tests/interop/keystore_roundtrip.mjs --mrt <path> --case <mrt-to-ethers|ethers-to-mrt> [--keep]');
  process.exit(2);
}

function parseArgs(argv) {
  const out = { keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--mrt' || a === '--case') {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      out[a.slice(2)] = argv[++i];
    } else if (a.startsWith('--mrt=')) out.mrt = a.slice(6);
    else if (a.startsWith('--case=')) out.case = a.slice(7);
    else if (a === '--keep') out.keep = true;
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!out.mrt) usage('--mrt is required');
  if (!out.case) usage('--case is required');
  return out;
}

function runMrt(mrt, args) {
  const shown = [mrt, ...args].map((x) => (/[\s"']/.test(x) ? JSON.stringify(x) : x)).join(' ');
  const r = spawnSync(mrt, args, { encoding: 'utf8', timeout: MRT_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
  const detail = () => `\n  command: ${shown}\n  exit status: ${r.status} signal: ${r.signal}\n  --- stdout ---\n${r.stdout ?? ''}\n  --- stderr ---\n${r.stderr ?? ''}`;
  if (r.error) throw new Failure(`cannot run mrt: ${r.error.message}${detail()}`);
  if (r.status !== 0) throw new Failure(`mrt exited with status ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}${detail()}`);
  const text = r.stdout.trim();
  let obj;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new Failure(`mrt --json did not print one JSON object: ${e.message}${detail()}`);
  }
  check(obj !== null && typeof obj === 'object' && !Array.isArray(obj), `mrt --json printed a non-object${detail()}`);
  return obj;
}

function writePasswordFile(dir) {
  const pw = path.join(dir, 'pw');
  fs.writeFileSync(pw, PASSWORD + '\n', { mode: 0o600 });
  return pw;
}

function isChecksummed(a) {
  if (typeof a !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(a)) return false;
  try {
    return getAddress(a) === a;
  } catch {
    return false;
  }
}

async function mrtToEthers(mrt, dir) {
  const ks = path.join(dir, 'ks.json');
  const pw = writePasswordFile(dir);
  const out = runMrt(mrt, ['key', 'new', '--keystore', ks, '--password-file', pw, '--light', '--json']);
  check(isChecksummed(out.address), `"address" is not an EIP-55 checksummed address: ${JSON.stringify(out.address)}`);
  check(typeof out.keystore === 'string', `"keystore" missing from the output: ${JSON.stringify(out)}`);
  check(path.resolve(out.keystore) === path.resolve(ks) || fs.realpathSync(out.keystore) === fs.realpathSync(ks),
    `"keystore" is ${JSON.stringify(out.keystore)}, expected ${ks}`);
  check(fs.existsSync(ks), `no keystore file at ${ks}`);

  const mode = fs.statSync(ks).mode & 0o777;
  check(mode === 0o600, `keystore file mode is 0${mode.toString(8)}, expected 0600`);

  const json = fs.readFileSync(ks, 'utf8');
  let data;
  try {
    data = JSON.parse(json);
  } catch (e) {
    throw new Failure(`keystore is not JSON: ${e.message}`);
  }
  check(data.version === 3, `keystore "version" is ${JSON.stringify(data.version)}, expected 3`);
  check((data.crypto ?? data.Crypto) != null, 'keystore has no "crypto" section');
  if (data.address !== undefined) {
    check(data.address === out.address.slice(2).toLowerCase(),
      `keystore "address" ${JSON.stringify(data.address)} is not the printed address (40 lowercase hex without 0x expected)`);
  }

  let wallet;
  try {
    wallet = await Wallet.fromEncryptedJson(json, PASSWORD_BYTES);
  } catch (e) {
    let hint = '';
    for (const form of ['NFC', 'NFKC']) {
      try {
        await Wallet.fromEncryptedJson(json, new TextEncoder().encode(PASSWORD.normalize(form)));
        hint = ` (it opens with the ${form}-normalised password: mrt must use the raw bytes of the password file's first line)`;
        break;
      } catch {}
    }
    throw new Failure(`ethers cannot open the keystore with the raw UTF-8 password bytes: ${e.shortMessage ?? e.message}${hint}`);
  }
  check(wallet.address === out.address, `ethers decrypts to ${wallet.address}, mrt printed ${out.address}`);

  // The password must be the raw bytes: the NFC form (other bytes) must not open it.
  const nfcBytes = new TextEncoder().encode(PASSWORD.normalize('NFC'));
  check(Buffer.compare(Buffer.from(nfcBytes), Buffer.from(PASSWORD_BYTES)) !== 0, 'test bug: NFC form equals raw form');
  let nfcOpens = true;
  try {
    await Wallet.fromEncryptedJson(json, nfcBytes);
  } catch {
    nfcOpens = false;
  }
  check(!nfcOpens, 'the keystore also opens with the NFC-normalised password: mrt normalised the password instead of using its raw bytes');
  return `mrt key new -> ethers: ${out.address}, mode 0600`;
}

async function ethersToMrt(mrt, dir) {
  const wallet = HDNodeWallet.fromPhrase(MNEMONIC); // deterministic; keystore gets "x-ethers" fields
  const json = await wallet.encrypt(PASSWORD_BYTES); // ethers' default scrypt (N=131072, r=8, p=1)
  const ks = path.join(dir, 'ks.json');
  fs.writeFileSync(ks, json, { mode: 0o600 });
  const pw = writePasswordFile(dir);

  const out = runMrt(mrt, ['key', 'show', '--keystore', ks, '--password-file', pw, '--server-name', SERVER_NAME, '--json']);
  const lower = wallet.address.toLowerCase();
  const userId = `@${lower}:${SERVER_NAME}`;
  check(out.address === wallet.address, `"address": mrt ${JSON.stringify(out.address)}, ethers ${wallet.address}`);
  check(out.user_id === userId, `"user_id": mrt ${JSON.stringify(out.user_id)}, expected ${userId}`);
  const password = wallet.signMessageSync(SERVER_NAME);
  const displayname = wallet.signMessageSync(userId);
  check(out.password === password, `"password": mrt ${JSON.stringify(out.password)}, ethers signMessage(${JSON.stringify(SERVER_NAME)}) = ${password}`);
  check(out.displayname === displayname, `"displayname": mrt ${JSON.stringify(out.displayname)}, ethers signMessage(${JSON.stringify(userId)}) = ${displayname}`);
  return `ethers keystore -> mrt key show: ${wallet.address}, user id, password and displayname match`;
}

const CASES = { 'mrt-to-ethers': mrtToEthers, 'ethers-to-mrt': ethersToMrt };

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const fn = CASES[args.case];
  if (!fn) usage(`unknown case ${JSON.stringify(args.case)} (known: ${Object.keys(CASES).join(', ')})`);
  const mrt = path.resolve(args.mrt);
  try {
    fs.accessSync(mrt, fs.constants.X_OK);
  } catch {
    usage(`${mrt} is not an executable file`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mrt-interop-${args.case}-`));
  const t0 = Date.now();
  try {
    const summary = await fn(mrt, dir);
    console.log(`PASS ${args.case} (${Date.now() - t0} ms): ${summary}`);
    if (!args.keep) fs.rmSync(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
    process.exitCode = 0;
  } catch (e) {
    console.error(`FAIL ${args.case}: ${e instanceof Failure ? e.message : e.stack}`);
    console.error(`(temporary files kept in ${dir})`);
    process.exitCode = 1;
  }
}

await main();
