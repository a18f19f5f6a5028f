// Checks one megolm_decrypt case with three implementations:
//   vodozemac (matrix-sdk-crypto-wasm OlmMachine, lib/megolm_vodozemac.mjs): outcome, the
//     decrypted event as JSON, and the message index (the session exported at that index by
//     lib/megolm_ref.mjs decrypts the message, the one exported at index + 1 does not);
//   libolm 3.2.15 (lib/megolm_olm.mjs): outcome, plaintext bytes, message index;
//   lib/megolm_ref.mjs (from the spec, node:crypto): outcome, plaintext bytes, message index.
// All three must agree with the case, and on whether the session key or the message is what
// gets refused. Two documented libolm differences from vodozemac (see libolmQuirk) are checked
// as such: libolm refuses a padded ciphertext and ignores non-zero trailing bits.
import { refDecrypt, parseSessionKey, exportKey, b64encode } from './megolm_ref.mjs';
import { olmDecrypt } from './megolm_olm.mjs';
import { vodozemacDecrypt, initVodozemac } from './megolm_vodozemac.mjs';

const enc = new TextEncoder();
const sameBytes = (a, b) => Buffer.from(a).equals(Buffer.from(b));
const sortedJson = (v) =>
  v === null || typeof v !== 'object'
    ? JSON.stringify(v)
    : Array.isArray(v)
      ? '[' + v.map(sortedJson).join(',') + ']'
      : '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + sortedJson(v[k])).join(',') + '}';

// The canonical (unpadded, zero trailing bits) spelling of a base64 string, or null when it is
// not base64 at all.
function canonicalB64(s) {
  const t = s.replace(/={1,2}$/, '');
  if (!/^[A-Za-z0-9+/]*$/.test(t) || t.length % 4 === 1) return null;
  return b64encode(Buffer.from(t, 'base64'));
}
// Where libolm is known to differ from vodozemac on the spelling of the base64:
//   'padded': a ciphertext with "=" padding (vodozemac accepts it; libolm decodes "=" as data
//     and fails);
//   'trailing_bits': a session key or ciphertext whose last character has non-zero unused
//     bits (vodozemac refuses it; libolm ignores the bits).
export function libolmQuirk(sessionKey, ciphertext) {
  const c = canonicalB64(ciphertext);
  if (/=$/.test(ciphertext) && c !== null && ciphertext.length % 4 === 0) return { kind: 'padded', ciphertext: c, sessionKey };
  const k = canonicalB64(sessionKey);
  if ((c !== null && c !== ciphertext && !/=/.test(ciphertext)) || (k !== null && k !== sessionKey && !/=/.test(sessionKey)))
    return { kind: 'trailing_bits', ciphertext: c ?? ciphertext, sessionKey: k ?? sessionKey };
  return null;
}

const show = (r) => (r.ok ? `decrypts (index ${r.index ?? '?'})` : `refuses the ${r.stage === 'key' ? 'session key' : 'message'} (${r.error})`);

// Returns a list of disagreements (empty when every implementation agrees with the case).
export async function checkMegolmCase({ session_key: key, ciphertext: ct, plaintext, message_index: index }) {
  await initVodozemac();
  const problems = [];
  const ref = refDecrypt(key, ct);
  const olm = olmDecrypt(key, ct);
  const vodo = await vodozemacDecrypt(key, ct);
  const quirk = libolmQuirk(key, ct);
  if (plaintext !== null) {
    const want = enc.encode(plaintext);
    const bytesOk = (r, who) => {
      if (!r.ok) problems.push(`${who} ${show(r)}`);
      else {
        if (!sameBytes(r.plaintext, want)) problems.push(`${who} gives another plaintext: ${JSON.stringify(Buffer.from(r.plaintext).toString())}`);
        if (r.index !== index) problems.push(`${who} gives message index ${r.index}`);
      }
    };
    bytesOk(ref, 'spec reference');
    if (quirk?.kind === 'padded') {
      if (olm.ok) problems.push('libolm accepts a padded ciphertext (it used not to)');
      bytesOk(olmDecrypt(quirk.sessionKey, quirk.ciphertext), 'libolm (on the unpadded spelling)');
    } else bytesOk(olm, 'libolm');
    if (!vodo.ok) problems.push(`vodozemac ${show(vodo)}`);
    else {
      let wantEvent;
      try {
        const e = JSON.parse(plaintext);
        wantEvent = { type: e.type, content: e.content, room_id: e.room_id };
      } catch {
        problems.push('plaintext is not JSON (vodozemac is checked through matrix-sdk-crypto, which needs an event)');
      }
      if (wantEvent && sortedJson(vodo.event) !== sortedJson(wantEvent)) problems.push(`vodozemac gives another event: ${JSON.stringify(vodo.event)}`);
      // the message index, as vodozemac sees it
      if (ref.ok) {
        const session = parseSessionKey(key);
        const at = await vodozemacDecrypt(exportKey(session, index), ct);
        if (!at.ok) problems.push(`vodozemac: the session exported at index ${index} ${show(at)}`);
        const after = await vodozemacDecrypt(exportKey(session, index + 1), ct);
        if (after.ok || after.stage !== 'message') problems.push(`vodozemac: the session exported at index ${index + 1} ${show(after)}`);
      }
    }
  } else {
    if (ref.ok) problems.push(`spec reference ${show(ref)}`);
    if (vodo.ok) problems.push(`vodozemac ${show(vodo)}`);
    if (quirk?.kind === 'trailing_bits') {
      const canon = olmDecrypt(quirk.sessionKey, quirk.ciphertext);
      if (!olm.ok) problems.push(`libolm refuses non-zero trailing bits (it used to ignore them): ${show(olm)}`);
      else if (!canon.ok || !sameBytes(canon.plaintext, olm.plaintext)) problems.push('libolm: the canonical spelling decrypts differently');
    } else if (olm.ok) problems.push(`libolm ${show(olm)}`);
    const stages = [['spec reference', ref], ['vodozemac', vodo], ...(quirk ? [] : [['libolm', olm]])];
    if (new Set(stages.map(([, r]) => r.stage)).size !== 1)
      problems.push(`implementations refuse at different points: ${stages.map(([w, r]) => `${w} ${show(r)}`).join('; ')}`);
  }
  return { problems, stage: plaintext === null ? ref.stage : null, ref, olm, vodo };
}
