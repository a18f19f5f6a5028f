// keystore_v3 vectors (Web3 Secret Storage v3). Password = raw UTF-8 bytes (never NFKC).
// Keystores come from ethers v6 (scrypt; passwords passed as Uint8Array so ethers does not
// NFKC-normalise them), from node:crypto by hand (pbkdf2, geth-style scrypt), and from the
// official Web3 Secret Storage test vectors. Every case is checked with both ethers
// (decryptKeystoreJsonSync) and the node:crypto reader in lib/keystore_node.mjs.
import crypto from 'node:crypto';
import { encryptKeystoreJsonSync, decryptKeystoreJsonSync, Wallet, HDNodeWallet, Mnemonic, uuidV4 } from 'ethers';
import { SECP_N, hex, utf8, seedBytes, seedKey, assert, assertEq } from '../lib/common.mjs';
import { nobleAddress } from '../lib/eth_noble.mjs';
import { nodeDecrypt, nodeEncrypt, deriveKey } from '../lib/keystore_node.mjs';
import { FAMOUS_KEY } from './eth_address.mjs';

const clone = (o) => JSON.parse(JSON.stringify(o));
const flipHexChar = (h, i) => h.slice(0, i) + ((parseInt(h[i], 16) ^ 1).toString(16)) + h.slice(i + 1);

// The official test vectors of the Web3 Secret Storage definition (ethereum.org; also
// go-ethereum accounts/keystore/testdata/v3_test_vector.json).
const WEB3_PRIV = '0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d';
const WEB3_PBKDF2 = {
  crypto: {
    cipher: 'aes-128-ctr',
    cipherparams: { iv: '6087dab2f9fdbbfaddc31a909735c1e6' },
    ciphertext: '5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46',
    kdf: 'pbkdf2',
    kdfparams: { c: 262144, dklen: 32, prf: 'hmac-sha256', salt: 'ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd' },
    mac: '517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2',
  },
  id: '3198bc9c-6672-5ab3-d995-4942343ae5b6',
  version: 3,
};
const WEB3_SCRYPT = {
  crypto: {
    cipher: 'aes-128-ctr',
    cipherparams: { iv: '83dbcc02d8ccb40e466191a123791e0e' },
    ciphertext: 'd172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c',
    kdf: 'scrypt',
    kdfparams: { dklen: 32, n: 262144, p: 8, r: 1, salt: 'ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19' },
    mac: '2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097',
  },
  id: '3198bc9c-6672-5ab3-d995-4942343ae5b6',
  version: 3,
};

let counter = 0;
function ethersKeystore(pk, password, scrypt) {
  const i = counter++;
  const account = { address: new Wallet(hex(pk)).address, privateKey: hex(pk) };
  const json = encryptKeystoreJsonSync(account, utf8(password), {
    salt: seedBytes('keystore/salt', i),
    iv: seedBytes('keystore/iv', i, 16),
    uuid: seedBytes('keystore/uuid', i, 16),
    scrypt,
  });
  return JSON.parse(json);
}

export function generate() {
  const cases = [];
  const add = (keystore, password, private_key, comment, { ethersRefuses } = {}) => {
    const pw = utf8(password);
    // ethers, password as raw bytes
    let viaEthers;
    try {
      viaEthers = decryptKeystoreJsonSync(JSON.stringify(keystore), pw).privateKey;
    } catch (e) {
      if (ethersRefuses) assert(ethersRefuses.test(e.message), `ethers refuses for the known reason (${comment}): ${e.message}`);
      viaEthers = null;
    }
    if (!ethersRefuses) assertEq(viaEthers, private_key, `ethers decrypt (${comment})`);
    assertEq(nodeDecrypt(keystore, pw), private_key, `node:crypto decrypt (${comment})`);
    cases.push({ comment, keystore, password, private_key });
  };

  const k1 = seedKey('keystore', 1);
  const k2 = seedKey('keystore', 2);
  const k3 = seedKey('keystore', 3);
  const other = seedKey('keystore', 99);
  const PW = 'mrt test password';
  const light = { N: 4096, r: 8, p: 1 };

  // ethers output as is ("Crypto", address present).
  const base = ethersKeystore(k1, PW, light);
  assert('Crypto' in base && !('crypto' in base), 'ethers writes "Crypto"');
  add(base, PW, hex(k1), 'ethers v6 keystore, scrypt N=4096 r=8 p=1, "Crypto" spelling as ethers writes it');
  {
    const ks = { address: base.address, id: base.id, version: 3, crypto: clone(base.Crypto) };
    add(ks, PW, hex(k1), 'same keystore with "crypto" (geth spelling) instead of "Crypto"');
  }
  add(base, PW + ' ', null, 'wrong password (one trailing space)');
  add(base, 'Mrt test password', null, 'wrong password (case differs)');
  add(base, '', null, 'wrong password (empty)');
  {
    const ks = clone(base);
    ks.Crypto.mac = flipHexChar(ks.Crypto.mac, 63);
    add(ks, PW, null, 'tampered MAC (last hex digit flipped), right password');
  }
  {
    const ks = clone(base);
    ks.Crypto.ciphertext = flipHexChar(ks.Crypto.ciphertext, 0);
    add(ks, PW, null, 'tampered ciphertext (first byte changed), right password: MAC check fails');
  }
  {
    const ks = clone(base);
    ks.Crypto.cipherparams.iv = flipHexChar(ks.Crypto.cipherparams.iv, 31);
    // the MAC does not cover the IV: decryption yields another 32-byte value -> another
    // account, so the address check refuses it
    add(ks, PW, null, 'tampered IV: MAC still verifies, the decrypted key does not match the address field');
  }
  {
    const ks = clone(base);
    ks.address = nobleAddress(other).slice(2);
    add(ks, PW, null, 'address field names another account: refused');
  }
  {
    const ks = clone(base);
    delete ks.address;
    add(ks, PW, hex(k1), 'no address field: decrypts');
  }
  {
    const ks = clone(base);
    delete ks.address;
    ks.Crypto.cipherparams.iv = flipHexChar(ks.Crypto.cipherparams.iv, 31);
    const dk = deriveKey('scrypt', ks.Crypto.kdfparams, utf8(PW));
    const d = crypto.createDecipheriv('aes-128-ctr', dk.slice(0, 16), Buffer.from(ks.Crypto.cipherparams.iv, 'hex'));
    const garbage = hex(Buffer.concat([d.update(Buffer.from(ks.Crypto.ciphertext, 'hex')), d.final()]));
    assert(BigInt(garbage) > 0n && BigInt(garbage) < SECP_N, 'tampered-IV key is still a valid scalar');
    add(ks, PW, garbage, 'tampered IV and no address field: nothing can detect it, the result is another key (documents why the address check matters)');
  }

  // Non-ASCII passwords: raw UTF-8 bytes, no Unicode normalisation.
  const NFC = 'p\u00e4ssw\u00f6rd';
  const NFD = 'pa\u0308sswo\u0308rd';
  assert(NFC.normalize('NFD') === NFD && NFD.normalize('NFC') === NFC, 'NFC/NFD forms');
  const ksNfd = ethersKeystore(k2, NFD, light);
  add(ksNfd, NFD, hex(k2), 'password "pässwörd" in NFD form (a + U+0308), encrypted with the NFD bytes');
  add(ksNfd, NFC, null, 'same keystore, password in NFC form: different bytes, wrong password (no normalisation)');
  const ksNfc = ethersKeystore(k2, NFC, light);
  add(ksNfc, NFC, hex(k2), 'password "pässwörd" in NFC form (U+00E4), encrypted with the NFC bytes');
  add(ksNfc, NFD, null, 'same keystore, password in NFD form: wrong password');
  {
    // NFKC would turn the ligature U+FB01 into "fi": a raw-bytes reader must not.
    const lig = '\ufb01sh';
    const ks = ethersKeystore(k3, lig, light);
    add(ks, lig, hex(k3), 'password with U+FB01 (ligature fi), raw bytes');
    add(ks, 'fish', null, 'same keystore, password "fish" (the NFKC form of the real password): wrong password');
  }
  {
    const pw = 'Grüße 🦊 pw';
    add(ethersKeystore(k3, pw, light), pw, hex(k3), 'password with non-ASCII and a 4-byte character (U+1F98A)');
  }
  add(ethersKeystore(k1, '', light), '', hex(k1), 'empty password');

  // ethers default scrypt parameters (N=131072 r=8 p=1), the famous key.
  {
    const famous = Buffer.from(FAMOUS_KEY.slice(2), 'hex');
    const ks = ethersKeystore(famous, PW, {});
    assertEq(ks.Crypto.kdfparams.n, 131072, 'ethers default N');
    add(ks, PW, FAMOUS_KEY, 'ethers v6 default scrypt parameters (N=131072 r=8 p=1)');
  }

  // ethers keystore of a mnemonic wallet with its "x-ethers" section (made deterministic by
  // hand exactly as ethers builds it: AES-256-CTR of the entropy under dk[32..64]).
  {
    const phrase = 'test test test test test test test test test test test junk';
    const w = HDNodeWallet.fromPhrase(phrase);
    const ks = ethersKeystore(Buffer.from(w.privateKey.slice(2), 'hex'), PW, light);
    const dk = deriveKey('scrypt', ks.Crypto.kdfparams, utf8(PW), 64);
    const mIv = seedBytes('keystore/mnemonic-iv', 0, 16);
    const c = crypto.createCipheriv('aes-256-ctr', dk.slice(32, 64), mIv);
    const entropy = Buffer.from(Mnemonic.fromPhrase(phrase).entropy.slice(2), 'hex');
    const mct = Buffer.concat([c.update(entropy), c.final()]);
    ks['x-ethers'] = {
      client: 'ethers/6.17.0',
      gethFilename: `UTC--2025-01-01T00-00-00.0Z--${ks.address}`,
      path: "m/44'/60'/0'/0/0",
      locale: 'en',
      mnemonicCounter: Buffer.from(mIv).toString('hex'),
      mnemonicCiphertext: mct.toString('hex'),
      version: '0.1',
    };
    const back = Wallet.fromEncryptedJsonSync(JSON.stringify(ks), utf8(PW));
    assert(back.mnemonic && back.mnemonic.phrase === phrase && back.address === w.address, 'x-ethers mnemonic round trip');
    add(ks, PW, w.privateKey, 'ethers keystore of a mnemonic wallet, with the "x-ethers" extension fields (ignored by readers)');
  }

  // Hand-built keystores (node:crypto), geth layout.
  {
    const mkId = (i) => uuidV4(seedBytes('keystore/hand-uuid', i, 16));
    const scryptGeth = nodeEncrypt({
      privateKey: k2, pwBytes: utf8(PW), kdf: 'scrypt',
      kdfparams: { dklen: 32, n: 4096, p: 6, r: 8, salt: Buffer.from(seedBytes('keystore/hand-salt', 0)).toString('hex') },
      iv: seedBytes('keystore/hand-iv', 0, 16), id: mkId(0),
    });
    add(scryptGeth, PW, hex(k2), 'hand-built (node:crypto) scrypt keystore with geth "light" parameters N=4096 r=8 p=6');
    const pb = nodeEncrypt({
      privateKey: k3, pwBytes: utf8(PW), kdf: 'pbkdf2',
      kdfparams: { c: 4096, dklen: 32, prf: 'hmac-sha256', salt: Buffer.from(seedBytes('keystore/hand-salt', 1)).toString('hex') },
      iv: seedBytes('keystore/hand-iv', 1, 16), id: mkId(1),
    });
    add(pb, PW, hex(k3), 'hand-built pbkdf2 keystore, prf hmac-sha256, c=4096');
    add(pb, 'not the password', null, 'pbkdf2 keystore, wrong password');
    const pbNoAddr = nodeEncrypt({
      privateKey: k1, pwBytes: utf8(NFC), kdf: 'pbkdf2',
      kdfparams: { c: 262144, dklen: 32, prf: 'hmac-sha256', salt: Buffer.from(seedBytes('keystore/hand-salt', 2)).toString('hex') },
      iv: seedBytes('keystore/hand-iv', 2, 16), id: mkId(2), address: false,
    });
    add(pbNoAddr, NFC, hex(k1), 'hand-built pbkdf2 keystore, c=262144, NFC non-ASCII password, no address field');
    const pbCap = clone(pb);
    pbCap.Crypto = pbCap.crypto;
    delete pbCap.crypto;
    add(pbCap, PW, hex(k3), 'pbkdf2 keystore with "Crypto" spelling');
  }

  // Official Web3 Secret Storage test vectors.
  add(WEB3_PBKDF2, 'testpassword', WEB3_PRIV, 'official Web3 Secret Storage test vector (PBKDF2-SHA-256, c=262144); no address field');
  // NB: n=2^18 with r=1 breaks RFC 7914's "N < 2^(128*r/8)": ethers' bundled @noble/hashes
  // scrypt refuses it, geth (x/crypto/scrypt), OpenSSL/node and nettle compute it.
  add(WEB3_SCRYPT, 'testpassword', WEB3_PRIV,
    'official Web3 Secret Storage test vector (scrypt n=262144 r=1 p=8); no address field; n >= 2^(16r) breaks the RFC 7914 bound, which geth does not enforce (ethers refuses it)',
    { ethersRefuses: /N must be larger than 1, a power of 2, less than 2\^\(128 \* r \/ 8\)/ });
  add(WEB3_PBKDF2, 'testpassworD', null, 'official PBKDF2 test vector, wrong password');

  return { kind: 'keystore_v3', cases };
}
