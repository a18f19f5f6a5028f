// libolm 3.2.15 (@matrix-org/olm, compiled to wasm) for the megolm_decrypt vectors: loading,
// a decrypt that tries the session key both as an export (import_session) and as a sharing
// key (create), and the Matrix device-key plumbing that lets a libolm account talk Olm to a
// matrix-sdk-crypto OlmMachine (lib/megolm_vodozemac.mjs).
import { createRequire } from 'node:module';
import { canonicalize, parseStrict } from './strict_json.mjs';

const require = createRequire(import.meta.url);
export const Olm = require('@matrix-org/olm');

let ready = null;
export function initOlm() {
  ready ??= Olm.init();
  return ready;
}

const enc = new TextEncoder();

// { ok: true, plaintext (bytes, re-encoded from libolm's UTF-8 string), index } or
// { ok: false, stage: 'key' | 'message', error }.
export function olmDecrypt(sessionKey, ciphertext) {
  const errors = [];
  for (const how of ['import_session', 'create']) {
    const s = new Olm.InboundGroupSession();
    try {
      try {
        s[how](sessionKey);
      } catch (e) {
        errors.push(`${how}: ${e.message}`);
        continue;
      }
      try {
        const r = s.decrypt(ciphertext);
        return { ok: true, plaintext: enc.encode(r.plaintext), index: r.message_index, how };
      } catch (e) {
        return { ok: false, stage: 'message', error: `${how}, decrypt: ${e.message}` };
      }
    } finally {
      s.free();
    }
  }
  return { ok: false, stage: 'key', error: errors.join('; ') };
}

export const canon = (plainValue) => canonicalize(parseStrict(JSON.stringify(plainValue)));

// A libolm device: account, identity keys, signed device_keys and signed one-time keys, as a
// homeserver would hand them out in /keys/query and /keys/claim.
export function olmDevice(userId, deviceId) {
  const account = new Olm.Account();
  account.create();
  const ik = JSON.parse(account.identity_keys());
  const deviceKeys = {
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    device_id: deviceId,
    keys: { [`curve25519:${deviceId}`]: ik.curve25519, [`ed25519:${deviceId}`]: ik.ed25519 },
    user_id: userId,
  };
  deviceKeys.signatures = { [userId]: { [`ed25519:${deviceId}`]: account.sign(canon(deviceKeys)) } };
  return {
    userId,
    deviceId,
    account,
    curve25519: ik.curve25519,
    ed25519: ik.ed25519,
    deviceKeys,
    // one signed one-time key in /keys/claim shape
    claimOneTimeKey() {
      account.generate_one_time_keys(1);
      const [id, key] = Object.entries(JSON.parse(account.one_time_keys()).curve25519)[0];
      account.mark_keys_as_published();
      return { [`signed_curve25519:${id}`]: { key, signatures: { [userId]: { [`ed25519:${deviceId}`]: account.sign(canon({ key })) } } } };
    },
    free() {
      account.free();
    },
  };
}
