import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { oaepDecode } from '../../src/domain/oaep.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rawDecrypt = (c: Buffer) => privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, c);

describe('OAEP decoding (the fallback for tokens without OAEP-SHA-256)', () => {
  for (const hash of ['sha1', 'sha256'] as const) {
    it(`decodes what Node encrypts with OAEP-${hash}, for every message length`, () => {
      const max = 256 - 2 * (hash === 'sha1' ? 20 : 32) - 2;
      for (const length of [0, 1, 17, 32, max]) {
        const message = randomBytes(length);
        const em = rawDecrypt(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, message));
        expect(oaepDecode(em, hash)!.equals(message)).toBe(true);
      }
    });
  }

  it('refuses a block made with the other hash, a tampered block, and PKCS#1 v1.5 padding', () => {
    const message = Buffer.from('thirty-two bytes of key material');
    const em = rawDecrypt(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, message));
    expect(oaepDecode(em, 'sha256')).toBeUndefined();
    for (const at of [0, 1, 25, 100, 255]) {
      const t = Buffer.from(em);
      t[at]! ^= 0x01;
      expect(oaepDecode(t, 'sha1'), `byte ${at}`).toBeUndefined();
    }
    const pkcs1 = rawDecrypt(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, message));
    expect(oaepDecode(pkcs1, 'sha256')).toBeUndefined();
    expect(oaepDecode(Buffer.alloc(256), 'sha256')).toBeUndefined();
    expect(oaepDecode(randomBytes(256), 'sha256')).toBeUndefined();
  });
});
