import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, GetPublicKeyCommand, ReEncryptCommand, type EncryptionAlgorithmSpec, type KeySpec } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { expectAwsError } from '../support/errors.js';
import { useTestService } from '../support/service.js';

const kms = useTestService();

const CASES: Array<[EncryptionAlgorithmSpec, 'sha1' | 'sha256', number]> = [
  ['RSAES_OAEP_SHA_1', 'sha1', 20],
  ['RSAES_OAEP_SHA_256', 'sha256', 32],
];

async function rsaKey(spec: KeySpec) {
  const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'ENCRYPT_DECRYPT' }));
  const spki = Buffer.from((await kms.client.send(new GetPublicKeyCommand({ KeyId: KeyMetadata!.KeyId }))).PublicKey!);
  return { keyId: KeyMetadata!.KeyId!, publicKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }) };
}

describe('RSA encryption keys', () => {
  for (const spec of ['RSA_2048', 'RSA_3072'] as KeySpec[]) {
    it(`${spec}: what Node encrypts under the public key decrypts through the service, with both OAEP hashes`, async () => {
      const { keyId, publicKey } = await rsaKey(spec);
      const m = (await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
      expect(m.EncryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
      const k = Number(spec.slice(4)) / 8;
      for (const [algorithm, hash, hLen] of CASES) {
        const limit = k - 2 * hLen - 2;
        for (const length of [1, 32, limit]) {
          const plaintext = randomBytes(length);
          const ciphertext = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, plaintext);
          const out = await kms.client.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: ciphertext, EncryptionAlgorithm: algorithm }));
          expect(Buffer.from(out.Plaintext!).equals(plaintext), `${algorithm} ${length} bytes`).toBe(true);
          expect(out.EncryptionAlgorithm).toBe(algorithm);
        }
        // The service's own Encrypt round-trips, and refuses more than the limit.
        const enc = await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: randomBytes(limit), EncryptionAlgorithm: algorithm }));
        expect(enc.CiphertextBlob!.length).toBe(k);
        await kms.client.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: algorithm }));
        await expectAwsError(kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: randomBytes(limit + 1), EncryptionAlgorithm: algorithm })), 'ValidationException');
      }
    });
  }

  it('answers every padding failure with the same InvalidCiphertextException', async () => {
    const { keyId, publicKey } = await rsaKey('RSA_2048');
    const good = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('secret'));
    const pkcs1 = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from('secret'));
    const sha1 = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from('secret'));
    const flipped = Buffer.from(good);
    flipped[100]! ^= 0x01;
    const messages = new Set<string>();
    for (const [bad, algorithm] of [[flipped, 'RSAES_OAEP_SHA_256'], [pkcs1, 'RSAES_OAEP_SHA_256'], [sha1, 'RSAES_OAEP_SHA_256'], [good, 'RSAES_OAEP_SHA_1'], [pkcs1, 'RSAES_OAEP_SHA_1'], [randomBytes(256), 'RSAES_OAEP_SHA_256'], [randomBytes(255), 'RSAES_OAEP_SHA_256']] as const) {
      const err = await expectAwsError(kms.client.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: bad, EncryptionAlgorithm: algorithm })), 'InvalidCiphertextException');
      messages.add(err.message);
    }
    expect(messages.size).toBe(1);
    const ok = await kms.client.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: good, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    expect(Buffer.from(ok.Plaintext!).toString()).toBe('secret');
  });

  it('re-encrypts between a symmetric key and an RSA key, both ways', async () => {
    const { keyId: rsa } = await rsaKey('RSA_2048');
    const symmetric = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const blob = (await kms.client.send(new EncryptCommand({ KeyId: symmetric, Plaintext: Buffer.from('moving keys'), EncryptionContext: { a: 'b' } }))).CiphertextBlob!;
    const toRsa = await kms.client.send(
      new ReEncryptCommand({ CiphertextBlob: blob, SourceEncryptionContext: { a: 'b' }, DestinationKeyId: rsa, DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
    );
    expect(toRsa.DestinationEncryptionAlgorithm).toBe('RSAES_OAEP_SHA_256');
    const back = await kms.client.send(
      new ReEncryptCommand({ CiphertextBlob: toRsa.CiphertextBlob, SourceKeyId: rsa, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationKeyId: symmetric }),
    );
    expect(back.SourceEncryptionAlgorithm).toBe('RSAES_OAEP_SHA_256');
    const out = await kms.client.send(new DecryptCommand({ CiphertextBlob: back.CiphertextBlob }));
    expect(Buffer.from(out.Plaintext!).toString()).toBe('moving keys');
    await expectAwsError(
      kms.client.send(new ReEncryptCommand({ CiphertextBlob: blob, SourceEncryptionContext: { a: 'b' }, DestinationKeyId: rsa, DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1', DryRun: true })),
      'DryRunOperationException',
    );
  });

  it('refuses what AWS refuses for asymmetric encryption keys', async () => {
    const { keyId } = await rsaKey('RSA_2048');
    await expectAwsError(kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })), 'InvalidKeyUsageException');
    await expectAwsError(kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1', EncryptionContext: { a: 'b' } })), 'ValidationException');
    await expectAwsError(kms.client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' })), 'InvalidKeyUsageException');
    const blob = (await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }))).CiphertextBlob!;
    // Without the KeyId, an RSA ciphertext names no key.
    await expectAwsError(kms.client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })), 'InvalidCiphertextException');
  });
});
