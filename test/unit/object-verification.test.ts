import { describe, expect, it } from 'vitest';
import { pkcs11js as A } from '../../src/hsm/pkcs11js.js';
import { judgeKeyPair, judgeSecretKey, madeInToken, type ObjectFacts } from '../../src/hsm/object-verification.js';
import { CKM_EDDSA } from '../../src/hsm/templates.js';

const SOFTHSM = { allowedMechanismsAttribute: true, rawRsaDecrypt: false };
const judgeSecretKey_ = (facts: ObjectFacts) => judgeSecretKey(facts, SOFTHSM);
const flags = (on: number[], off: number[]) => new Map<number, boolean>([...on.map((t) => [t, true] as const), ...off.map((t) => [t, false] as const)]);

const aesRootKey: ObjectFacts = {
  objectClass: A.CKO_SECRET_KEY,
  keyType: A.CKK_AES,
  flags: flags(
    [A.CKA_TOKEN, A.CKA_PRIVATE, A.CKA_SENSITIVE, A.CKA_NEVER_EXTRACTABLE, A.CKA_ALWAYS_SENSITIVE, A.CKA_LOCAL, A.CKA_ENCRYPT, A.CKA_DECRYPT],
    [A.CKA_EXTRACTABLE, A.CKA_MODIFIABLE, A.CKA_SIGN, A.CKA_VERIFY, A.CKA_WRAP, A.CKA_UNWRAP, A.CKA_DERIVE],
  ),
  mechanisms: [A.CKM_AES_GCM],
};

const with_ = (facts: ObjectFacts, changes: Partial<ObjectFacts> & { set?: Array<[number, boolean]> }): ObjectFacts => ({
  ...facts,
  ...changes,
  flags: new Map([...facts.flags, ...(changes.set ?? [])]),
});

const ecPrivate: ObjectFacts = {
  objectClass: A.CKO_PRIVATE_KEY,
  keyType: A.CKK_EC,
  flags: flags(
    [A.CKA_TOKEN, A.CKA_PRIVATE, A.CKA_SENSITIVE, A.CKA_NEVER_EXTRACTABLE, A.CKA_ALWAYS_SENSITIVE, A.CKA_LOCAL, A.CKA_SIGN],
    [A.CKA_EXTRACTABLE, A.CKA_MODIFIABLE, A.CKA_DECRYPT, A.CKA_UNWRAP, A.CKA_DERIVE],
  ),
  mechanisms: [A.CKM_ECDSA],
};
const ecPublic: ObjectFacts = {
  objectClass: A.CKO_PUBLIC_KEY,
  keyType: A.CKK_EC,
  flags: flags([A.CKA_TOKEN, A.CKA_VERIFY], [A.CKA_MODIFIABLE, A.CKA_ENCRYPT, A.CKA_WRAP, A.CKA_DERIVE]),
  mechanisms: [A.CKM_ECDSA],
};

describe('judging a secret key object', () => {
  it('finds nothing wrong with a root key as the service makes it, and knows the token made it', () => {
    expect(judgeSecretKey_(aesRootKey)).toEqual({ problems: [], legacyGaps: [] });
    expect(madeInToken(aesRootKey)).toBe(true);
  });

  it('refuses an extractable, non-sensitive or session object, and one with any extra usage', () => {
    for (const [type, value] of [[A.CKA_EXTRACTABLE, true], [A.CKA_SENSITIVE, false], [A.CKA_TOKEN, false], [A.CKA_PRIVATE, false], [A.CKA_WRAP, true], [A.CKA_DERIVE, true], [A.CKA_SIGN, true], [A.CKA_DECRYPT, false]] as const) {
      expect(judgeSecretKey_(with_(aesRootKey, { set: [[type, value]] })).problems, `attribute 0x${type.toString(16)} = ${value}`).toHaveLength(1);
    }
  });

  it('refuses mechanisms beyond its purpose, and other key types', () => {
    expect(judgeSecretKey_(with_(aesRootKey, { mechanisms: [A.CKM_AES_GCM, A.CKM_AES_ECB] })).problems[0]).toMatch(/not those of its purpose/);
    expect(judgeSecretKey_(with_(aesRootKey, { keyType: A.CKK_DES3 })).problems[0]).toMatch(/neither AES nor a generic secret/);
    const hmac = with_(aesRootKey, { keyType: A.CKK_GENERIC_SECRET, mechanisms: [A.CKM_SHA256_HMAC, A.CKM_SHA512_HMAC], set: [[A.CKA_SIGN, true], [A.CKA_VERIFY, true], [A.CKA_ENCRYPT, false], [A.CKA_DECRYPT, false]] });
    expect(judgeSecretKey_(hmac).problems).toHaveLength(1);
    expect(judgeSecretKey_({ ...hmac, mechanisms: [A.CKM_SHA256_HMAC] }).problems).toEqual([]);
  });

  it('tells what an object made before objects were locked lacks from what is wrong', () => {
    const legacy = with_(aesRootKey, { mechanisms: [], set: [[A.CKA_MODIFIABLE, true]] });
    expect(judgeSecretKey_(legacy)).toEqual({ problems: [], legacyGaps: ['the secret key is modifiable', 'the secret key sets no CKA_ALLOWED_MECHANISMS'] });
  });

  it('expects no CKA_ALLOWED_MECHANISMS of a token that does not keep it', () => {
    expect(judgeSecretKey({ ...aesRootKey, mechanisms: [] }, { ...SOFTHSM, allowedMechanismsAttribute: false })).toEqual({ problems: [], legacyGaps: [] });
  });

  it('reads an imported key as not made in the token', () => {
    expect(madeInToken(with_(aesRootKey, { set: [[A.CKA_LOCAL, false], [A.CKA_NEVER_EXTRACTABLE, false]] }))).toBe(false);
  });
});

describe('judging a key pair', () => {
  it('finds nothing wrong with a signing pair as the service makes it', () => {
    expect(judgeKeyPair(ecPrivate, ecPublic, { ...SOFTHSM, rawRsaDecrypt: false })).toEqual({ problems: [], legacyGaps: [] });
  });

  it('refuses halves of two types, and a half that decrypts or wraps, and leaves provenance to the record', () => {
    // Provenance is the caller's to compare with the record (an imported pair is not made in the token).
    expect(judgeKeyPair(with_(ecPrivate, { set: [[A.CKA_LOCAL, false]] }), ecPublic, { ...SOFTHSM, rawRsaDecrypt: false }).problems).toEqual([]);
    expect(judgeKeyPair(ecPrivate, with_(ecPublic, { keyType: A.CKK_RSA }), { ...SOFTHSM, rawRsaDecrypt: false }).problems[0]).toMatch(/key types/);
    expect(judgeKeyPair(ecPrivate, with_(ecPublic, { set: [[A.CKA_WRAP, true]] }), { ...SOFTHSM, rawRsaDecrypt: false }).problems).toHaveLength(1);
    expect(judgeKeyPair(with_(ecPrivate, { mechanisms: [A.CKM_ECDSA, CKM_EDDSA] }), ecPublic, { ...SOFTHSM, rawRsaDecrypt: false }).problems.length).toBeGreaterThan(0);
  });

  it('accepts an RSA decryption pair with or without raw RSA, whichever the token needed when it was made', () => {
    const rsaPrivate = with_(ecPrivate, { keyType: A.CKK_RSA, mechanisms: [A.CKM_RSA_PKCS_OAEP], set: [[A.CKA_SIGN, false], [A.CKA_DECRYPT, true]] });
    const rsaPublic = with_(ecPublic, { keyType: A.CKK_RSA, mechanisms: [A.CKM_RSA_PKCS_OAEP], set: [[A.CKA_VERIFY, false], [A.CKA_ENCRYPT, true]] });
    expect(judgeKeyPair(rsaPrivate, rsaPublic, { ...SOFTHSM, rawRsaDecrypt: true }).problems).toEqual([]);
    const raw = [A.CKM_RSA_PKCS_OAEP, A.CKM_RSA_X_509];
    expect(judgeKeyPair({ ...rsaPrivate, mechanisms: raw }, { ...rsaPublic, mechanisms: raw }, { ...SOFTHSM, rawRsaDecrypt: false }).problems).toEqual([]);
    expect(judgeKeyPair({ ...rsaPrivate, mechanisms: [A.CKM_RSA_PKCS] }, rsaPublic, { ...SOFTHSM, rawRsaDecrypt: false }).problems).toHaveLength(1);
  });

  it('accepts a key-agreement pair that only derives with ECDH, and refuses one that also signs or sits on another curve type', () => {
    const agreePrivate = with_(ecPrivate, { mechanisms: [A.CKM_ECDH1_DERIVE], set: [[A.CKA_SIGN, false], [A.CKA_DERIVE, true]] });
    const agreePublic = with_(ecPublic, { mechanisms: [A.CKM_ECDH1_DERIVE], set: [[A.CKA_VERIFY, false]] });
    const token = { ...SOFTHSM, rawRsaDecrypt: false };
    expect(judgeKeyPair(agreePrivate, agreePublic, token).problems).toEqual([]);
    expect(judgeKeyPair(with_(agreePrivate, { set: [[A.CKA_SIGN, true]] }), agreePublic, token).problems[0]).toMatch(/CKA_SIGN/);
    expect(judgeKeyPair(agreePrivate, with_(agreePublic, { set: [[A.CKA_VERIFY, true]] }), token).problems[0]).toMatch(/CKA_VERIFY/);
    expect(judgeKeyPair(agreePrivate, with_(agreePublic, { mechanisms: [A.CKM_ECDSA] }), token).problems).toHaveLength(1);
    const rsaDeriving = with_(agreePrivate, { keyType: A.CKK_RSA });
    expect(judgeKeyPair(rsaDeriving, with_(agreePublic, { keyType: A.CKK_RSA }), token).problems.some((p) => /derives/.test(p))).toBe(true);
  });
});
