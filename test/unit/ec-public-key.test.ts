import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodePoint, recoverPublicPoints } from '../../src/domain/ec-public-key.js';
import { ECC_SPECS, type EccKeySpec } from '../../src/domain/key-spec.js';

const NODE_CURVES: Record<EccKeySpec, string> = { ECC_NIST_P256: 'prime256v1', ECC_NIST_P384: 'secp384r1', ECC_NIST_P521: 'secp521r1', ECC_SECG_P256K1: 'secp256k1' };

describe('recovering an ECDSA public key from signatures', () => {
  it.each(Object.keys(NODE_CURVES) as EccKeySpec[])('%s: one of the recovered points is the key, and a second signature singles it out', (spec) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: NODE_CURVES[spec] });
    const { coordinateBytes, hash } = ECC_SPECS[spec];
    const jwk = publicKey.export({ format: 'jwk' });
    const expected = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]).toString('hex');
    const candidatesOf = (message: string) => {
      const digest = createHash(hash).update(message).digest();
      const signature = sign(hash, Buffer.from(message), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const r = BigInt(`0x${signature.subarray(0, coordinateBytes).toString('hex')}`);
      const s = BigInt(`0x${signature.subarray(coordinateBytes).toString('hex')}`);
      return recoverPublicPoints(spec, digest, r, s).map((q) => encodePoint(q, coordinateBytes).toString('hex'));
    };
    const first = candidatesOf('one');
    expect(first).toContain(expected);
    expect(first.length).toBeLessThanOrEqual(4);
    const both = first.filter((c) => candidatesOf('two').includes(c));
    expect(both).toEqual([expected]);
  });
});
