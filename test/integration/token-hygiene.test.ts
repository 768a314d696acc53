import { constants, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { CreateKeyCommand, GenerateDataKeyCommand, GetParametersForImportCommand, ImportKeyMaterialCommand, ReplicateKeyCommand } from '@aws-sdk/client-kms';
import type * as P11 from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pkcs11js } from '../../src/hsm/pkcs11js.js';
import { AUDIT_SIGNING_KEY } from '../../src/services/audit/audit-signing-key.js';
import { openAsPinHolder, type PinHolder } from '../support/pin-holder.js';
import { useTestService } from '../support/service.js';

/**
 * Opens the service's token directly through PKCS#11, after the service has
 * stopped, and checks every object it created: where it lives, who may read it,
 * and that its key material can neither be read nor wrapped out.
 */
let holder: PinHolder;
let lib: P11.PKCS11;
let session: Buffer;
const keyIds: string[] = [];
const hmacKeyIds: string[] = [];
/** Symmetric keys whose material was imported (BYOK). */
const importedKeyIds: string[] = [];
/** Key pairs that sign (EC and RSA; the audit trail's digest-signing pair too), and RSA pairs that decrypt. */
const signingKeyIds: string[] = [AUDIT_SIGNING_KEY.keyId];
const decryptKeyIds: string[] = [];
const agreementKeyIds: string[] = [];
/** ECC signing keys whose private key was imported (PKCS#8), not made in the token. */
const importedPairIds: string[] = [];

/** The 16 bytes a key id names its objects by: a UUID's, or a multi-Region key's hex digits after mrk-. */
const idHex = (keyId: string) => (keyId.startsWith('mrk-') ? keyId.slice(4) : keyId.replace(/-/g, ''));

const bool = (b: Buffer) => b.length === 1 && b[0] === 1;

function attributes(handle: Buffer, types: number[]): Map<number, Buffer> {
  const values = lib.C_GetAttributeValue(session, handle, types.map((type) => ({ type })));
  return new Map(values.map((a) => [a.type, a.value as Buffer]));
}

const kms = useTestService({ config: { otherRegions: ['eu-west-1'] } });
beforeAll(async () => {
  // A multi-Region key and its replica: one object, named by the KeyId both regions share.
  const multiRegion = (await kms.client.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!.KeyId!;
  await kms.client.send(new ReplicateKeyCommand({ KeyId: multiRegion, ReplicaRegion: 'eu-west-1' }));
  keyIds.push(multiRegion);
  for (let i = 0; i < 3; i++) {
    const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({ Description: `hygiene ${i}` }));
    keyIds.push(KeyMetadata!.KeyId!);
    await kms.client.send(new GenerateDataKeyCommand({ KeyId: KeyMetadata!.KeyId, KeySpec: 'AES_256' }));
  }
  for (const spec of ['HMAC_224', 'HMAC_512'] as const) {
    const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'GENERATE_VERIFY_MAC' }));
    hmacKeyIds.push(KeyMetadata!.KeyId!);
  }
  for (const spec of ['ECC_NIST_P256', 'ECC_SECG_P256K1', 'RSA_2048'] as const) {
    const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY' }));
    signingKeyIds.push(KeyMetadata!.KeyId!);
  }
  decryptKeyIds.push((await kms.client.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata!.KeyId!);
  agreementKeyIds.push((await kms.client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'KEY_AGREEMENT' }))).KeyMetadata!.KeyId!);
  const imported = (await kms.client.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
  const params = await kms.client.send(new GetParametersForImportCommand({ KeyId: imported, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
  const wrappingKey = createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' });
  await kms.client.send(
    new ImportKeyMaterialCommand({
      KeyId: imported,
      ImportToken: params.ImportToken,
      EncryptedKeyMaterial: publicEncrypt({ key: wrappingKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, randomBytes(32)),
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    }),
  );
  importedKeyIds.push(imported);
  const importedPair = (await kms.client.send(new CreateKeyCommand({ Origin: 'EXTERNAL', KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
  const pairParams = await kms.client.send(new GetParametersForImportCommand({ KeyId: importedPair, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
  const pkcs8 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'der', type: 'pkcs8' });
  const pairWrappingKey = createPublicKey({ key: Buffer.from(pairParams.PublicKey!), format: 'der', type: 'spki' });
  await kms.client.send(
    new ImportKeyMaterialCommand({
      KeyId: importedPair,
      ImportToken: pairParams.ImportToken,
      EncryptedKeyMaterial: publicEncrypt({ key: pairWrappingKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, pkcs8),
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    }),
  );
  importedPairIds.push(importedPair);
  await kms.stop(); // finalises the module: this test is now the token's only user
  holder = await openAsPinHolder(kms.dataDir);
  ({ lib, session } = holder);
});

afterAll(() => {
  holder?.close();
});

/** Every object of the class on the token (CKO_SECRET_KEY, CKO_PRIVATE_KEY, ...). */
function findObjects(objectClass: number): Buffer[] {
  return holder.find([{ type: pkcs11js.CKA_CLASS, value: objectClass }]);
}

const allSecretKeys = () => findObjects(pkcs11js.CKO_SECRET_KEY);

/** What the call throws (undefined if it returns). */
function pkcs11Error(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('token hygiene', () => {
  it('holds exactly one secret-key object per KMS key, named by key id and version', () => {
    const objects = allSecretKeys();
    const all = [...keyIds, ...hmacKeyIds, ...importedKeyIds];
    expect(objects).toHaveLength(all.length);
    const ids = objects.map((h) => attributes(h, [pkcs11js.CKA_ID]).get(pkcs11js.CKA_ID)!.toString('hex'));
    for (const keyId of all) expect(ids).toContain(`${idHex(keyId)}00000001`);
    for (const h of objects) {
      const a = attributes(h, [pkcs11js.CKA_ID, pkcs11js.CKA_LABEL]);
      const keyHex = a.get(pkcs11js.CKA_ID)!.subarray(0, 16).toString('hex');
      const keyId = all.find((k) => idHex(k) === keyHex)!;
      expect(a.get(pkcs11js.CKA_LABEL)!.toString('utf8')).toBe(`kms/${keyId}/v1`);
    }
  });

  it('creates every object as a private, sensitive, never-extractable token object with only the usage its key needs', () => {
    const common: Array<[number, string, boolean]> = [
      [pkcs11js.CKA_TOKEN, 'CKA_TOKEN', true],
      [pkcs11js.CKA_PRIVATE, 'CKA_PRIVATE', true],
      [pkcs11js.CKA_SENSITIVE, 'CKA_SENSITIVE', true],
      [pkcs11js.CKA_ALWAYS_SENSITIVE, 'CKA_ALWAYS_SENSITIVE', true],
      [pkcs11js.CKA_EXTRACTABLE, 'CKA_EXTRACTABLE', false],
      [pkcs11js.CKA_NEVER_EXTRACTABLE, 'CKA_NEVER_EXTRACTABLE', true],
      [pkcs11js.CKA_WRAP, 'CKA_WRAP', false],
      [pkcs11js.CKA_UNWRAP, 'CKA_UNWRAP', false],
      [pkcs11js.CKA_DERIVE, 'CKA_DERIVE', false],
      [pkcs11js.CKA_MODIFIABLE, 'CKA_MODIFIABLE', false],
    ];
    const usage = [pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_DECRYPT, pkcs11js.CKA_SIGN, pkcs11js.CKA_VERIFY];
    // CK_ULONG attributes come back as 8 little-endian bytes on 64-bit platforms.
    const ulong = (b: Buffer) => Number(b.readBigUInt64LE());
    let hmacSeen = 0;
    for (const h of allSecretKeys()) {
      const a = attributes(h, [...common.map(([t]) => t), ...usage, pkcs11js.CKA_KEY_TYPE, pkcs11js.CKA_VALUE_LEN, pkcs11js.CKA_ID]);
      const wasImported = importedKeyIds.some((k) => a.get(pkcs11js.CKA_ID)!.subarray(0, 16).toString('hex') === idHex(k));
      for (const [type, name, want] of common) {
        // Material that came in wrapped was, by the standard, not always sensitive nor never extractable before it came.
        const expected = wasImported && (type === pkcs11js.CKA_ALWAYS_SENSITIVE || type === pkcs11js.CKA_NEVER_EXTRACTABLE) ? false : want;
        expect(bool(a.get(type)!), `${name}${wasImported ? ' (imported)' : ''}`).toBe(expected);
      }
      const [encrypt, decrypt, sign, verify] = usage.map((t) => bool(a.get(t)!));
      const isHmac = hmacKeyIds.some((k) => a.get(pkcs11js.CKA_ID)!.subarray(0, 16).toString('hex') === idHex(k));
      if (isHmac) {
        hmacSeen++;
        expect(ulong(a.get(pkcs11js.CKA_KEY_TYPE)!)).toBe(pkcs11js.CKK_GENERIC_SECRET);
        expect([28, 64]).toContain(ulong(a.get(pkcs11js.CKA_VALUE_LEN)!));
        expect({ encrypt, decrypt, sign, verify }).toEqual({ encrypt: false, decrypt: false, sign: true, verify: true });
      } else {
        expect(ulong(a.get(pkcs11js.CKA_KEY_TYPE)!)).toBe(pkcs11js.CKK_AES);
        // SoftHSM records no length for an unwrapped key; the import checked it in the token (byok.test.ts).
        expect(ulong(a.get(pkcs11js.CKA_VALUE_LEN)!)).toBe(wasImported ? 0 : 32);
        expect({ encrypt, decrypt, sign, verify }).toEqual({ encrypt: true, decrypt: true, sign: false, verify: false });
      }
    }
    expect(hmacSeen).toBe(hmacKeyIds.length);
  });

  it('keeps each key pair private half sensitive, never extractable and good for one use, its public half likewise', () => {
    const privateKeys = findObjects(pkcs11js.CKO_PRIVATE_KEY);
    const publicKeys = findObjects(pkcs11js.CKO_PUBLIC_KEY);
    const pairs = [...signingKeyIds, ...decryptKeyIds, ...agreementKeyIds, ...importedPairIds];
    expect(privateKeys).toHaveLength(pairs.length);
    expect(publicKeys).toHaveLength(pairs.length);
    const of = (ids: string[]) => (a: Map<number, Buffer>) => ids.some((k) => idHex(k) === a.get(pkcs11js.CKA_ID)!.subarray(0, 16).toString('hex'));
    const decrypts = of(decryptKeyIds);
    const agrees = of(agreementKeyIds);
    const imported = of(importedPairIds);
    for (const h of privateKeys) {
      const a = attributes(h, [
        pkcs11js.CKA_TOKEN, pkcs11js.CKA_PRIVATE, pkcs11js.CKA_SENSITIVE, pkcs11js.CKA_ALWAYS_SENSITIVE, pkcs11js.CKA_EXTRACTABLE,
        pkcs11js.CKA_NEVER_EXTRACTABLE, pkcs11js.CKA_SIGN, pkcs11js.CKA_DECRYPT, pkcs11js.CKA_UNWRAP, pkcs11js.CKA_DERIVE, pkcs11js.CKA_ID,
        pkcs11js.CKA_LOCAL, pkcs11js.CKA_MODIFIABLE,
      ]);
      const b = (t: number) => bool(a.get(t)!);
      expect([b(pkcs11js.CKA_TOKEN), b(pkcs11js.CKA_PRIVATE), b(pkcs11js.CKA_SENSITIVE)]).toEqual([true, true, true]);
      // Made in the token: always sensitive, never extractable, local. Imported: none of these can be said, and none is claimed.
      expect([b(pkcs11js.CKA_ALWAYS_SENSITIVE), b(pkcs11js.CKA_NEVER_EXTRACTABLE), b(pkcs11js.CKA_LOCAL), b(pkcs11js.CKA_MODIFIABLE)]).toEqual(imported(a) ? [false, false, false, false] : [true, true, true, false]);
      expect([b(pkcs11js.CKA_EXTRACTABLE), b(pkcs11js.CKA_UNWRAP)]).toEqual([false, false]);
      // Exactly one use: signing, (RSA ENCRYPT_DECRYPT) decryption, or (KEY_AGREEMENT) derivation.
      const use = { sign: b(pkcs11js.CKA_SIGN), decrypt: b(pkcs11js.CKA_DECRYPT), derive: b(pkcs11js.CKA_DERIVE) };
      expect(use).toEqual({ sign: !decrypts(a) && !agrees(a), decrypt: decrypts(a), derive: agrees(a) });
      expect(pairs.map((k) => idHex(k))).toContain(a.get(pkcs11js.CKA_ID)!.subarray(0, 16).toString('hex'));
      // The secret part: CKA_VALUE of an EC key, CKA_PRIVATE_EXPONENT of an RSA key.
      const keyType = Number(attributes(h, [pkcs11js.CKA_KEY_TYPE]).get(pkcs11js.CKA_KEY_TYPE)!.readBigUInt64LE());
      const error = pkcs11Error(() => lib.C_GetAttributeValue(session, h, [{ type: keyType === pkcs11js.CKK_RSA ? pkcs11js.CKA_PRIVATE_EXPONENT : pkcs11js.CKA_VALUE }]));
      expect((error as P11.Pkcs11Error).code).toBe(pkcs11js.CKR_ATTRIBUTE_SENSITIVE);
    }
    for (const h of publicKeys) {
      const a = attributes(h, [pkcs11js.CKA_VERIFY, pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_WRAP, pkcs11js.CKA_DERIVE, pkcs11js.CKA_ID]);
      // An agreeing pair's public half does nothing in the token.
      const want = decrypts(a) ? [false, true, false, false] : agrees(a) ? [false, false, false, false] : [true, false, false, false];
      expect([pkcs11js.CKA_VERIFY, pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_WRAP, pkcs11js.CKA_DERIVE].map((t) => bool(a.get(t)!))).toEqual(want);
    }
  });

  it('refuses to reveal CKA_VALUE', () => {
    for (const h of allSecretKeys()) {
      const error = pkcs11Error(() => lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_VALUE }]));
      expect(error).toBeInstanceOf(pkcs11js.Pkcs11Error);
      expect((error as P11.Pkcs11Error).code).toBe(pkcs11js.CKR_ATTRIBUTE_SENSITIVE);
    }
  });

  it('refuses to wrap any key out, even under a wrapping key made for the purpose', () => {
    const serviceKeys = allSecretKeys();
    expect(serviceKeys).toHaveLength(keyIds.length + hmacKeyIds.length + importedKeyIds.length);
    const wrappingKey = lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_WRAP, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: true },
    ]);
    try {
      // The wrapping key itself can be wrapped: proof that the refusals below come from the keys' attributes.
      expect(lib.C_WrapKey(session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, wrappingKey, wrappingKey, Buffer.alloc(128)).length).toBe(40);
      for (const h of serviceKeys) {
        for (const mechanism of [pkcs11js.CKM_AES_KEY_WRAP_PAD, pkcs11js.CKM_AES_KEY_WRAP]) {
          const error = pkcs11Error(() => lib.C_WrapKey(session, { mechanism }, wrappingKey, h, Buffer.alloc(128)));
          expect(error).toBeInstanceOf(pkcs11js.Pkcs11Error);
          expect((error as P11.Pkcs11Error).code).toBe(pkcs11js.CKR_KEY_UNEXTRACTABLE);
        }
      }
    } finally {
      lib.C_DestroyObject(session, wrappingKey);
    }
  });

  it('locks every object to the mechanisms of its one purpose (CKA_ALLOWED_MECHANISMS)', () => {
    const mechanismsOf = (h: Buffer) => {
      const value = attributes(h, [pkcs11js.CKA_ALLOWED_MECHANISMS]).get(pkcs11js.CKA_ALLOWED_MECHANISMS)!;
      return Array.from({ length: value.length / 8 }, (_, i) => Number(value.readBigUInt64LE(8 * i))).sort((x, y) => x - y);
    };
    const idOf = (h: Buffer) => attributes(h, [pkcs11js.CKA_ID]).get(pkcs11js.CKA_ID)!.subarray(0, 16).toString('hex');
    const named = (ids: string[], h: Buffer) => ids.some((k) => idHex(k) === idOf(h));
    for (const h of allSecretKeys()) {
      const bytes = Number(attributes(h, [pkcs11js.CKA_VALUE_LEN]).get(pkcs11js.CKA_VALUE_LEN)!.readBigUInt64LE());
      const want = !named(hmacKeyIds, h) ? [pkcs11js.CKM_AES_GCM] : bytes === 28 ? [pkcs11js.CKM_SHA224_HMAC] : [pkcs11js.CKM_SHA512_HMAC];
      expect(mechanismsOf(h), idOf(h)).toEqual(want);
    }
    const rsaSigning = (h: Buffer) => Number(attributes(h, [pkcs11js.CKA_KEY_TYPE]).get(pkcs11js.CKA_KEY_TYPE)!.readBigUInt64LE()) === pkcs11js.CKK_RSA;
    for (const h of [...findObjects(pkcs11js.CKO_PRIVATE_KEY), ...findObjects(pkcs11js.CKO_PUBLIC_KEY)]) {
      // SoftHSM 2.6 has no RSA-OAEP with SHA-256 for decryption: raw RSA, with the padding checked by the service, takes its place.
      const want = named(decryptKeyIds, h)
        ? [pkcs11js.CKM_RSA_X_509, pkcs11js.CKM_RSA_PKCS_OAEP]
        : named(agreementKeyIds, h)
          ? [pkcs11js.CKM_ECDH1_DERIVE]
          : rsaSigning(h)
          ? [pkcs11js.CKM_RSA_PKCS, pkcs11js.CKM_RSA_PKCS_PSS]
          : [pkcs11js.CKM_ECDSA];
      expect(mechanismsOf(h), idOf(h)).toEqual(want.sort((x, y) => x - y));
    }
  });

  it('refuses a PIN holder every attempt to widen an object or use it otherwise', () => {
    const objects = [...allSecretKeys(), ...findObjects(pkcs11js.CKO_PRIVATE_KEY), ...findObjects(pkcs11js.CKO_PUBLIC_KEY)];
    const ecb = Buffer.alloc(8);
    ecb.writeBigUInt64LE(BigInt(pkcs11js.CKM_AES_ECB));
    for (const h of objects) {
      // Each attribute as it was (a public key has no CKA_DECRYPT: unreadable stays unreadable).
      const value = (type: number) => {
        try {
          return attributes(h, [type]).get(type)!.toString('hex');
        } catch (e) {
          return `unreadable: ${String(e)}`;
        }
      };
      const read = () => [pkcs11js.CKA_WRAP, pkcs11js.CKA_DECRYPT, pkcs11js.CKA_DERIVE, pkcs11js.CKA_ALLOWED_MECHANISMS].map(value);
      const before = read();
      for (const attribute of [
        { type: pkcs11js.CKA_WRAP, value: true },
        { type: pkcs11js.CKA_DECRYPT, value: true },
        { type: pkcs11js.CKA_DERIVE, value: true },
        { type: pkcs11js.CKA_ALLOWED_MECHANISMS, value: ecb },
      ]) {
        // CKR_ACTION_PROHIBITED (0x1B), which pkcs11js names CKR_VENDOR_DEFINED:27: the object is not modifiable.
        const error = pkcs11Error(() => lib.C_SetAttributeValue(session, h, [attribute]));
        expect(String(error)).toMatch(/CKR_VENDOR_DEFINED:27|CKR_ATTRIBUTE_READ_ONLY/);
      }
      expect(read()).toEqual(before);
    }
    // A root key used with another mechanism than AES-GCM (ECB would encrypt block by block, unauthenticated).
    for (const h of allSecretKeys().filter((h) => Number(attributes(h, [pkcs11js.CKA_KEY_TYPE]).get(pkcs11js.CKA_KEY_TYPE)!.readBigUInt64LE()) === pkcs11js.CKK_AES)) {
      const error = pkcs11Error(() => lib.C_EncryptInit(session, { mechanism: pkcs11js.CKM_AES_ECB }, h));
      expect((error as P11.Pkcs11Error).code).toBe(pkcs11js.CKR_MECHANISM_INVALID);
    }
    // A key-agreement private half used to sign: refused (it only derives, and only with ECDH).
    const agreeing = findObjects(pkcs11js.CKO_PRIVATE_KEY).filter((h) => agreementKeyIds.some((k) => idHex(k) === attributes(h, [pkcs11js.CKA_ID]).get(pkcs11js.CKA_ID)!.subarray(0, 16).toString('hex')));
    expect(agreeing).toHaveLength(agreementKeyIds.length);
    for (const h of agreeing) {
      const error = pkcs11Error(() => lib.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, h));
      expect([pkcs11js.CKR_MECHANISM_INVALID, pkcs11js.CKR_KEY_FUNCTION_NOT_PERMITTED]).toContain((error as P11.Pkcs11Error).code);
    }
  });

  it('keeps no import wrapping key pair once its import token has been used', () => {
    const wrapping = [...findObjects(pkcs11js.CKO_PRIVATE_KEY), ...findObjects(pkcs11js.CKO_PUBLIC_KEY)].filter((h) =>
      attributes(h, [pkcs11js.CKA_LABEL]).get(pkcs11js.CKA_LABEL)!.toString('utf8').startsWith('kms-import/'),
    );
    expect(wrapping).toEqual([]);
  });
});
