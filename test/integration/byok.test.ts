import { constants, createCipheriv, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import {
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  RotateKeyOnDemandCommand,
  type AlgorithmSpec,
  type GetParametersForImportCommandOutput,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { DAY_MS, TestClock } from '../support/clock.js';
import { expectAwsError } from '../support/errors.js';
import { useTestService } from '../support/service.js';
import { MAX_OUTSTANDING_IMPORT_TOKENS, MAX_VALID_TO_DAYS } from '../../src/services/keys/key-import.js';

const clock = new TestClock();

const kms = useTestService({ clock, config: { schedulerIntervalMs: 0 } });

/** What a customer does on their side: wrap the material under the public key, with Node's own crypto. */
function wrap(material: Buffer, publicKeyDer: Uint8Array, algorithm: AlgorithmSpec): Buffer {
  const key = createPublicKey({ key: Buffer.from(publicKeyDer), format: 'der', type: 'spki' });
  const oaepHash = algorithm.endsWith('SHA_256') ? 'sha256' : 'sha1';
  const rsa = (data: Buffer) => publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, data);
  if (algorithm.startsWith('RSAES_OAEP')) return rsa(material);
  const ephemeral = randomBytes(32);
  const kwp = createCipheriv('id-aes256-wrap-pad', ephemeral, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([rsa(ephemeral), kwp.update(material), kwp.final()]);
}

async function externalKey(): Promise<string> {
  const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({ Origin: 'EXTERNAL', Description: 'byok' }));
  expect(KeyMetadata!.KeyState).toBe('PendingImport');
  expect(KeyMetadata!.Origin).toBe('EXTERNAL');
  expect(KeyMetadata!.Enabled).toBe(false);
  return KeyMetadata!.KeyId!;
}

async function importMaterial(keyId: string, material: Buffer, algorithm: AlgorithmSpec = 'RSAES_OAEP_SHA_1', extra: { ValidTo?: Date } = {}) {
  const params = await kms.client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: 'RSA_2048' }));
  return kms.client.send(
    new ImportKeyMaterialCommand({
      KeyId: keyId,
      ImportToken: params.ImportToken,
      EncryptedKeyMaterial: wrap(material, params.PublicKey!, algorithm),
      ...(extra.ValidTo ? { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: extra.ValidTo } : { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
    }),
  );
}

async function roundTrip(keyId: string, text: string): Promise<Uint8Array> {
  const blob = (await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text) }))).CiphertextBlob!;
  expect(Buffer.from((await kms.client.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(text);
  return blob;
}

describe('imported key material (BYOK)', () => {
  const supported: AlgorithmSpec[] = ['RSAES_OAEP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_1'];
  const sha256: AlgorithmSpec[] = ['RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_256'];

  for (const algorithm of supported) {
    it(`imports 32 random bytes wrapped with ${algorithm}, then encrypts and decrypts with them`, async () => {
      const keyId = await externalKey();
      await expectAwsError(kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })), 'KMSInvalidStateException');
      await expectAwsError(kms.client.send(new EnableKeyCommand({ KeyId: keyId })), 'KMSInvalidStateException');
      const params = await kms.client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: 'RSA_2048' }));
      expect(params.KeyId).toMatch(new RegExp(`:key/${keyId}$`));
      expect(createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' }).asymmetricKeyDetails!.modulusLength).toBe(2048);
      expect(params.ParametersValidTo!.getTime() - clock.now().getTime()).toBeGreaterThan(23.9 * 3_600_000);

      const out = await kms.client.send(
        new ImportKeyMaterialCommand({
          KeyId: keyId,
          ImportToken: params.ImportToken,
          EncryptedKeyMaterial: wrap(randomBytes(32), params.PublicKey!, algorithm),
          ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        }),
      );
      expect(out.KeyId).toMatch(new RegExp(`:key/${keyId}$`));
      const m = (await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
      expect(m.KeyState).toBe('Enabled');
      expect(m.ExpirationModel).toBe('KEY_MATERIAL_DOES_NOT_EXPIRE');
      await roundTrip(keyId, `imported with ${algorithm}`);
      expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(true);
    });
  }

  it('says which mechanism the HSM lacks for the SHA-256 wrapping algorithms, or imports with them', async () => {
    const keyId = await externalKey();
    for (const algorithm of sha256) {
      const missing = kms.service.token.missingWrappingMechanism(algorithm as 'RSAES_OAEP_SHA_256');
      if (missing) {
        const err = await expectAwsError(
          kms.client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: 'RSA_2048' })),
          'UnsupportedOperationException',
        );
        expect(err.message).toContain('CKM_RSA_PKCS_OAEP with CKM_SHA256');
      } else {
        await importMaterial(keyId, randomBytes(32), algorithm);
      }
    }
  });

  it('refuses a tampered wrapped key, a forged or expired import token, and the wrong key size', async () => {
    const keyId = await externalKey();
    const params = await kms.client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
    const wrapped = wrap(randomBytes(32), params.PublicKey!, 'RSAES_OAEP_SHA_1');
    const tampered = Buffer.from(wrapped);
    tampered[100]! ^= 0x01;
    const send = (token: Uint8Array, material: Buffer) =>
      kms.client.send(new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: token, EncryptedKeyMaterial: material, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
    const unused = await kms.client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
    await expectAwsError(send(params.ImportToken!, tampered), 'InvalidCiphertextException');
    // An import token serves one import attempt: its wrapping key pair is gone after it.
    await expectAwsError(send(params.ImportToken!, wrapped), 'InvalidImportTokenException');
    await expectAwsError(send(randomBytes(16), wrapped), 'InvalidImportTokenException');
    // A 128-bit key where AWS requires 256 bits (RSA_AES_KEY_WRAP carries the length in the wrapped size).
    const aesParams = await kms.client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
    await expectAwsError(send(aesParams.ImportToken!, wrap(randomBytes(16), aesParams.PublicKey!, 'RSA_AES_KEY_WRAP_SHA_1')), 'InvalidCiphertextException');
    const otherKey = await externalKey();
    const unusedWrapped = wrap(randomBytes(32), unused.PublicKey!, 'RSAES_OAEP_SHA_1');
    await expectAwsError(
      kms.client.send(new ImportKeyMaterialCommand({ KeyId: otherKey, ImportToken: unused.ImportToken, EncryptedKeyMaterial: unusedWrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })),
      'InvalidImportTokenException',
    );
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('PendingImport');
    clock.advance(DAY_MS + 60_000);
    await expectAwsError(send(unused.ImportToken!, unusedWrapped), 'ExpiredImportTokenException');
    // Expired tokens' wrapping key pairs are destroyed by the scheduler.
    await kms.service.runScheduledJobs();
    await expectAwsError(send(unused.ImportToken!, unusedWrapped), 'InvalidImportTokenException');
  });

  it('goes back to PendingImport when the material is deleted, takes the same material back, and refuses different material', async () => {
    const keyId = await externalKey();
    const material = randomBytes(32);
    await importMaterial(keyId, material);
    const blob = await roundTrip(keyId, 'before deletion');

    await kms.client.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('PendingImport');
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(false);
    await expectAwsError(kms.client.send(new DecryptCommand({ CiphertextBlob: blob })), 'KMSInvalidStateException');

    await expectAwsError(importMaterial(keyId, randomBytes(32)), 'IncorrectKeyMaterialException');
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(false);
    await importMaterial(keyId, material);
    expect(Buffer.from((await kms.client.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('before deletion');

    // Re-importing into a key that has material: the same is accepted, different is refused.
    await importMaterial(keyId, material);
    await expectAwsError(importMaterial(keyId, randomBytes(32)), 'IncorrectKeyMaterialException');
    await roundTrip(keyId, 'still the same key');
    // An imported key rotates on demand only to new material imported for it (imported-rotation.test.ts).
    await expectAwsError(kms.client.send(new RotateKeyOnDemandCommand({ KeyId: keyId })), 'KMSInvalidStateException');
  });

  it('expires material at ValidTo: the token object is destroyed and the key waits for import again', async () => {
    const keyId = await externalKey();
    const material = randomBytes(32);
    await expectAwsError(
      kms.client.send(new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: randomBytes(16), EncryptedKeyMaterial: randomBytes(256) })),
      'ValidationException',
    );
    const validTo = new Date(clock.now().getTime() + DAY_MS);
    await importMaterial(keyId, material, 'RSAES_OAEP_SHA_1', { ValidTo: validTo });
    const m = (await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(m.ExpirationModel).toBe('KEY_MATERIAL_EXPIRES');
    expect(Math.abs(m.ValidTo!.getTime() - validTo.getTime())).toBeLessThan(1000);
    const blob = await roundTrip(keyId, 'until tomorrow');

    await kms.service.runScheduledJobs();
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(true);
    clock.advance(DAY_MS + 60_000);
    await kms.service.runScheduledJobs();
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(false);
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('PendingImport');
    await expectAwsError(kms.client.send(new DecryptCommand({ CiphertextBlob: blob })), 'KMSInvalidStateException');
  });

  it('refuses imports into keys that are not EXTERNAL', async () => {
    const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({}));
    await expectAwsError(
      kms.client.send(new GetParametersForImportCommand({ KeyId: KeyMetadata!.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' })),
      'UnsupportedOperationException',
    );
    await expectAwsError(kms.client.send(new DeleteImportedKeyMaterialCommand({ KeyId: KeyMetadata!.KeyId })), 'UnsupportedOperationException');
  });
});

describe('outstanding import tokens per key', () => {
  it(`keeps the newest ${MAX_OUTSTANDING_IMPORT_TOKENS}: the oldest past them is retired, its wrapping key pair destroyed`, async () => {
    const keyId = await externalKey();
    const issued: GetParametersForImportCommandOutput[] = [];
    for (let i = 0; i < MAX_OUTSTANDING_IMPORT_TOKENS + 2; i++) {
      issued.push(await kms.client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' })));
    }
    expect(await kms.service.store.listImportTokensOfKey(keyId)).toHaveLength(MAX_OUTSTANDING_IMPORT_TOKENS);
    const material = randomBytes(32);
    const importWith = (params: (typeof issued)[number]) =>
      kms.client.send(
        new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrap(material, params.PublicKey!, 'RSAES_OAEP_SHA_1'), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
      );
    for (const retired of issued.slice(0, 2)) await expectAwsError(importWith(retired), 'InvalidImportTokenException');
    await importWith(issued[2]!); // the oldest kept one still works
    await roundTrip(keyId, 'imported with a token that was kept');
  });
});

describe('bad import input changes nothing', () => {
  it('refuses a ValidTo more than 365 days ahead before touching the token, and imports with one inside it', async () => {
    const keyId = await externalKey();
    const material = randomBytes(32);
    const tooFar = new Date(clock.now().getTime() + (MAX_VALID_TO_DAYS + 1) * DAY_MS);
    const refused = await expectAwsError(importMaterial(keyId, material, 'RSAES_OAEP_SHA_1', { ValidTo: tooFar }), 'ValidationException');
    expect(refused.message).toBe(`ValidTo must be at most ${MAX_VALID_TO_DAYS} days from now.`);
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('PendingImport');
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(false);
    await expectAwsError(importMaterial(keyId, material, 'RSAES_OAEP_SHA_1', { ValidTo: new Date(1e13) }), 'ValidationException');
    await importMaterial(keyId, material, 'RSAES_OAEP_SHA_1', { ValidTo: new Date(clock.now().getTime() + MAX_VALID_TO_DAYS * DAY_MS - 60_000) });
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('Enabled');
  });

  it.each([1, 8, 16, 24, 25, 31, 33, 64])('refuses %i bytes of material (a symmetric key takes 32) with IncorrectKeyMaterialException, the key left waiting for its material', async (bytes) => {
    const keyId = await externalKey();
    const params = await kms.client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
    const call = kms.client.send(
      new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrap(randomBytes(bytes), params.PublicKey!, 'RSAES_OAEP_SHA_1'), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
    );
    const error = await call.then(
      () => undefined,
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => e,
    );
    expect(error?.$metadata?.httpStatusCode, `${error?.name}: ${error?.message}`).toBe(400);
    expect(error?.name).toBe('IncorrectKeyMaterialException');
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('PendingImport');
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(false);
  });
});
