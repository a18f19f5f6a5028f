// Independent Web3 Secret Storage v3 reader/writer on node:crypto (scrypt, pbkdf2, AES-CTR)
// and @noble/hashes keccak, applying the rules of PROTOCOL.md §7 (keystore_v3): `crypto` or
// `Crypto`, password = raw UTF-8 bytes, MAC = keccak256(dk[16..32] || ciphertext), and a
// keystore whose `address` names another account is refused.
import crypto from 'node:crypto';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { scrypt as nobleScrypt } from '@noble/hashes/scrypt.js';
import { concat, hex } from './common.mjs';
import { nobleAddress } from './eth_noble.mjs';

export function deriveKey(kdf, kdfparams, pwBytes, dkLen = 32) {
  const salt = Buffer.from(kdfparams.salt, 'hex');
  if (kdf === 'scrypt') {
    const { n, r, p } = kdfparams;
    if (n >= 2 ** (16 * r)) {
      // OpenSSL (node:crypto) enforces RFC 7914's N < 2^(128*r/8); geth and @noble/hashes 2.x
      // do not (the official Web3 scrypt test vector has r=1, n=2^18).
      return nobleScrypt(pwBytes, salt, { N: n, r, p, dkLen, maxmem: 2 * 128 * r * (n + p + 1) });
    }
    return new Uint8Array(crypto.scryptSync(pwBytes, salt, dkLen, { N: n, r, p, maxmem: 256 * n * r + (64 << 20) }));
  }
  if (kdf === 'pbkdf2') {
    if (kdfparams.prf !== 'hmac-sha256') throw new Error('unsupported prf');
    return new Uint8Array(crypto.pbkdf2Sync(pwBytes, salt, kdfparams.c, dkLen, 'sha256'));
  }
  throw new Error('unsupported kdf');
}

// Returns the private key as 0x-hex, or null when the password is wrong / MAC fails / the
// address field names another account.
export function nodeDecrypt(keystore, pwBytes) {
  const c = keystore.crypto ?? keystore.Crypto;
  if (keystore.version !== 3 || !c || c.cipher !== 'aes-128-ctr') throw new Error('unsupported keystore');
  const dk = deriveKey(c.kdf, c.kdfparams, pwBytes, c.kdfparams.dklen);
  const ct = Buffer.from(c.ciphertext, 'hex');
  const mac = hex(keccak_256(concat(dk.slice(16, 32), ct))).slice(2);
  if (mac !== c.mac) return null;
  const d = crypto.createDecipheriv('aes-128-ctr', dk.slice(0, 16), Buffer.from(c.cipherparams.iv, 'hex'));
  const pk = new Uint8Array(Buffer.concat([d.update(ct), d.final()]));
  if (keystore.address !== undefined && keystore.address !== nobleAddress(pk).slice(2)) return null;
  return hex(pk);
}

// Build a keystore by hand (geth field layout, lowercase `crypto`).
export function nodeEncrypt({ privateKey, pwBytes, kdf, kdfparams, iv, id, address = true }) {
  const dk = deriveKey(kdf, kdfparams, pwBytes, 32);
  const e = crypto.createCipheriv('aes-128-ctr', dk.slice(0, 16), Buffer.from(iv));
  const ct = Buffer.concat([e.update(Buffer.from(privateKey)), e.final()]);
  const mac = hex(keccak_256(concat(dk.slice(16, 32), ct))).slice(2);
  const ks = {};
  if (address) ks.address = nobleAddress(privateKey).slice(2);
  ks.crypto = {
    cipher: 'aes-128-ctr',
    ciphertext: ct.toString('hex'),
    cipherparams: { iv: Buffer.from(iv).toString('hex') },
    kdf,
    kdfparams,
    mac,
  };
  ks.id = id;
  ks.version = 3;
  return ks;
}
