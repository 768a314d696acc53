import { constants, createHash, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { CreateKeyCommand, DescribeKeyCommand, GetPublicKeyCommand, SignCommand, VerifyCommand, type KeySpec, type SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { expectAwsError } from '../support/errors.js';
import { useTestService } from '../support/service.js';

const kms = useTestService();

const ALGORITHMS: Array<[SigningAlgorithmSpec, string, boolean]> = [
  ['RSASSA_PSS_SHA_256', 'sha256', true],
  ['RSASSA_PSS_SHA_384', 'sha384', true],
  ['RSASSA_PSS_SHA_512', 'sha512', true],
  ['RSASSA_PKCS1_V1_5_SHA_256', 'sha256', false],
  ['RSASSA_PKCS1_V1_5_SHA_384', 'sha384', false],
  ['RSASSA_PKCS1_V1_5_SHA_512', 'sha512', false],
];

/** How Node's crypto verifies what AWS KMS means by each algorithm (PSS salt = digest length). */
function nodeKey(spki: Buffer, pss: boolean, hash: string) {
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: createHash(hash).digest().length } : { key, padding: constants.RSA_PKCS1_PADDING };
}

describe('RSA signing keys', () => {
  for (const spec of ['RSA_2048', 'RSA_3072'] as KeySpec[]) {
    it(`${spec}: every signing algorithm verifies with Node's crypto and with Verify; flipped bits fail`, async () => {
      const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY' }));
      const keyId = KeyMetadata!.KeyId!;
      expect(KeyMetadata!.SigningAlgorithms).toEqual(ALGORITHMS.map(([a]) => a));
      const pub = await kms.client.send(new GetPublicKeyCommand({ KeyId: keyId }));
      const spki = Buffer.from(pub.PublicKey!);
      expect(createPublicKey({ key: spki, format: 'der', type: 'spki' }).asymmetricKeyDetails!.modulusLength).toBe(Number(spec.slice(4)));

      for (const [algorithm, hash, pss] of ALGORITHMS) {
        const message = Buffer.from(`signed with ${algorithm}`);
        const signature = Buffer.from((await kms.client.send(new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm: algorithm }))).Signature!);
        expect(signature.length).toBe(Number(spec.slice(4)) / 8);
        expect(nodeVerify(hash, message, nodeKey(spki, pss, hash), signature), algorithm).toBe(true);
        const digest = createHash(hash).update(message).digest();
        const fromDigest = Buffer.from((await kms.client.send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: algorithm }))).Signature!);
        expect(nodeVerify(hash, message, nodeKey(spki, pss, hash), fromDigest), `${algorithm} DIGEST`).toBe(true);
        expect((await kms.client.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: signature, SigningAlgorithm: algorithm }))).SignatureValid).toBe(true);

        const tamperedSpki = Buffer.from(spki);
        tamperedSpki[tamperedSpki.length - 10]! ^= 0x01; // a bit of the modulus
        expect(nodeVerify(hash, message, nodeKey(tamperedSpki, pss, hash), signature), `${algorithm} under a tampered public key`).toBe(false);
        const flipped = Buffer.from(signature);
        flipped[10]! ^= 0x01;
        await expectAwsError(kms.client.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: flipped, SigningAlgorithm: algorithm })), 'KMSInvalidSignatureException');
        await expectAwsError(kms.client.send(new VerifyCommand({ KeyId: keyId, Message: Buffer.from('another'), Signature: signature, SigningAlgorithm: algorithm })), 'KMSInvalidSignatureException');
      }
    });
  }

  it('verifies what Node signs with PKCS#1 v1.5 only under the same key, and refuses wrong combinations', async () => {
    const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }));
    const keyId = KeyMetadata!.KeyId!;
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreign = nodeSign('sha256', Buffer.from('m'), other.privateKey);
    await expectAwsError(kms.client.send(new VerifyCommand({ KeyId: keyId, Message: Buffer.from('m'), Signature: foreign, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' })), 'KMSInvalidSignatureException');
    await expectAwsError(kms.client.send(new SignCommand({ KeyId: keyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })), 'InvalidKeyUsageException');
    await expectAwsError(kms.client.send(new SignCommand({ KeyId: keyId, Message: Buffer.alloc(48), MessageType: 'DIGEST', SigningAlgorithm: 'RSASSA_PSS_SHA_256' })), 'ValidationException');
    const encryptionKey = (await kms.client.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata!.KeyId!;
    await expectAwsError(kms.client.send(new SignCommand({ KeyId: encryptionKey, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' })), 'InvalidKeyUsageException');
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyUsage).toBe('SIGN_VERIFY');
  });
});
