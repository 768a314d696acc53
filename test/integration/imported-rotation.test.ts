import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import {
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
  type ImportKeyMaterialCommandInput,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { expectAwsError } from '../support/errors.js';
import { useTestService } from '../support/service.js';

/** Rotation of imported key material, as AWS does it since 2025: NEW_KEY_MATERIAL waits in PENDING_ROTATION until RotateKeyOnDemand. */
const kms = useTestService();

async function importMaterial(keyId: string, material: Buffer, extra: Partial<ImportKeyMaterialCommandInput> = {}): Promise<string> {
  const params = await kms.client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
  const wrapped = publicEncrypt({ key: createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, material);
  const out = await kms.client.send(
    new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ...extra }),
  );
  return out.KeyMaterialId!;
}

const current = async (keyId: string) => (await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
const materials = async (keyId: string, all = true) =>
  (await kms.client.send(new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: all ? 'ALL_KEY_MATERIAL' : 'ROTATIONS_ONLY' }))).Rotations!.map((r) => ({
    id: r.KeyMaterialId,
    state: r.KeyMaterialState,
    import: r.ImportState,
    type: r.RotationType,
    description: r.KeyMaterialDescription,
  }));
const encrypt = async (keyId: string, text: string) => (await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text) }))).CiphertextBlob!;
const decrypt = async (blob: Uint8Array) => {
  const out = await kms.client.send(new DecryptCommand({ CiphertextBlob: blob }));
  return { text: Buffer.from(out.Plaintext!).toString(), material: out.KeyMaterialId };
};

describe('rotating imported key material', () => {
  it('imports new material pending rotation, rotates to it on demand, keeps old material decrypting, and lists every material and its state', async () => {
    const keyId = (await kms.client.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const m1 = await importMaterial(keyId, a, { KeyMaterialDescription: 'first' });
    expect((await current(keyId)).CurrentKeyMaterialId).toBe(m1);
    const under1 = await encrypt(keyId, 'one');

    // New material waits: the key goes on using its current material.
    const m2 = await importMaterial(keyId, b, { ImportType: 'NEW_KEY_MATERIAL', KeyMaterialDescription: 'second' });
    expect(m2).not.toBe(m1);
    expect((await current(keyId)).CurrentKeyMaterialId).toBe(m1);
    expect(await materials(keyId)).toEqual([
      { id: m1, state: 'CURRENT', import: 'IMPORTED', type: undefined, description: 'first' },
      { id: m2, state: 'PENDING_ROTATION', import: 'IMPORTED', type: undefined, description: 'second' },
    ]);
    expect(await materials(keyId, false)).toEqual([]);
    expect((await decrypt(await encrypt(keyId, 'still one'))).material).toBe(m1);
    // Another NEW_KEY_MATERIAL while one is pending, or material the key has already: refused.
    await expectAwsError(importMaterial(keyId, c, { ImportType: 'NEW_KEY_MATERIAL' }), 'KMSInvalidStateException');

    await kms.client.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    expect((await current(keyId)).CurrentKeyMaterialId).toBe(m2);
    const under2 = await encrypt(keyId, 'two');
    expect(await decrypt(under2)).toEqual({ text: 'two', material: m2 });
    expect(await decrypt(under1)).toEqual({ text: 'one', material: m1 });
    expect(await materials(keyId, false)).toEqual([{ id: m2, state: 'CURRENT', import: 'IMPORTED', type: 'ON_DEMAND', description: 'second' }]);
    expect((await materials(keyId)).map((m) => [m.id, m.state])).toEqual([[m1, 'NON_CURRENT'], [m2, 'CURRENT']]);
    // Nothing pending: nothing to rotate to. Material the key has: not new.
    await expectAwsError(kms.client.send(new RotateKeyOnDemandCommand({ KeyId: keyId })), 'KMSInvalidStateException');
    await expectAwsError(importMaterial(keyId, a, { ImportType: 'NEW_KEY_MATERIAL' }), 'IncorrectKeyMaterialException');

    // Pending material can be deleted and replaced; it was never the key's.
    const m3 = await importMaterial(keyId, c, { ImportType: 'NEW_KEY_MATERIAL' });
    await kms.client.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId, KeyMaterialId: m3 }));
    expect((await materials(keyId)).map((m) => m.id)).toEqual([m1, m2]);
    expect((await current(keyId)).KeyState).toBe('Enabled');

    // Any material of the key gone: the key waits for it (PendingImport); the same material brings it back.
    await kms.client.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId, KeyMaterialId: m1 }));
    expect((await current(keyId)).KeyState).toBe('PendingImport');
    expect((await materials(keyId)).map((m) => [m.id, m.import])).toEqual([[m1, 'PENDING_IMPORT'], [m2, 'IMPORTED']]);
    await expectAwsError(kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })), 'KMSInvalidStateException');
    await expectAwsError(importMaterial(keyId, b, { KeyMaterialId: m1 }), 'IncorrectKeyMaterialException');
    await expectAwsError(importMaterial(keyId, randomBytes(32)), 'IncorrectKeyMaterialException');
    expect(await importMaterial(keyId, a, { KeyMaterialId: m1 })).toBe(m1);
    expect((await current(keyId)).KeyState).toBe('Enabled');
    expect(await decrypt(under1)).toEqual({ text: 'one', material: m1 });
    expect(await decrypt(under2)).toEqual({ text: 'two', material: m2 });
  });

  it('keeps ImportType and KeyMaterialId to symmetric keys, and automatic rotation to keys whose material AWS KMS makes', async () => {
    const rsa = (await kms.client.send(new CreateKeyCommand({ Origin: 'EXTERNAL', KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    const params = await kms.client.send(new GetParametersForImportCommand({ KeyId: rsa, WrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
    await expectAwsError(
      kms.client.send(new ImportKeyMaterialCommand({ KeyId: rsa, ImportToken: params.ImportToken, EncryptedKeyMaterial: randomBytes(300), ImportType: 'NEW_KEY_MATERIAL', ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })),
      'ValidationException',
    );
    const symmetric = (await kms.client.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    await importMaterial(symmetric, randomBytes(32));
    await expectAwsError(kms.client.send(new EnableKeyRotationCommand({ KeyId: symmetric })), 'UnsupportedOperationException');
  });
});
