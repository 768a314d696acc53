import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { derToRaw, rawToDer } from '../../src/domain/ecdsa-signature.js';

describe('ECDSA signature encoding', () => {
  it('converts between raw r||s and DER exactly as Node encodes them', () => {
    for (const [curve, n] of [['prime256v1', 32], ['secp384r1', 48], ['secp521r1', 66], ['secp256k1', 32]] as const) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      for (let i = 0; i < 20; i++) {
        const message = Buffer.from(`message ${i}`);
        const raw = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        expect(raw.length).toBe(2 * n);
        const der = rawToDer(raw);
        expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true);
        expect(derToRaw(der, n)!.equals(raw)).toBe(true);
      }
    }
  });

  it('handles high bits and leading zeros in r and s', () => {
    const raw = Buffer.concat([Buffer.alloc(32, 0xff), Buffer.concat([Buffer.alloc(3), Buffer.alloc(29, 0x01)])]);
    const der = rawToDer(raw);
    expect(der.toString('hex').startsWith('3042022100ff')).toBe(true);
    expect(der.toString('hex')).toContain('021d01');
    expect(derToRaw(der, 32)!.equals(raw)).toBe(true);
  });

  it('refuses malformed DER', () => {
    const der = rawToDer(Buffer.alloc(64, 0x11));
    expect(derToRaw(der, 32)).toBeDefined();
    expect(derToRaw(Buffer.concat([der, Buffer.from([0])]), 32)).toBeUndefined();
    expect(derToRaw(der.subarray(0, der.length - 1), 32)).toBeUndefined();
    const wrongTag = Buffer.from(der);
    wrongTag[0] = 0x31;
    expect(derToRaw(wrongTag, 32)).toBeUndefined();
    expect(derToRaw(rawToDer(Buffer.alloc(96, 0x11)), 32)).toBeUndefined();
    expect(derToRaw(Buffer.alloc(0), 32)).toBeUndefined();
  });
});
