// vodozemac's side (matrix-sdk-crypto-wasm) of the key-export interop test
// (tests/interop/key_export_interop_test.cpp):
//   node key_export_peer.mjs encrypt PASSPHRASE_FILE ROUNDS < sessions.json > export.txt
//   node key_export_peer.mjs decrypt PASSPHRASE_FILE < export.txt > sessions.json
import { readFileSync } from 'node:fs';
import { initAsync, OlmMachine } from '@matrix-org/matrix-sdk-crypto-wasm';

const [command, passphraseFile, rounds] = process.argv.slice(2);
const passphrase = readFileSync(passphraseFile, 'utf8');
const input = readFileSync(0, 'utf8');
await initAsync();
if (command === 'encrypt') {
  process.stdout.write(OlmMachine.encryptExportedRoomKeys(input, passphrase, Number(rounds)));
} else if (command === 'decrypt') {
  process.stdout.write(OlmMachine.decryptExportedRoomKeys(input, passphrase));
} else {
  console.error('usage: key_export_peer.mjs encrypt|decrypt PASSPHRASE_FILE [ROUNDS]');
  process.exit(2);
}
