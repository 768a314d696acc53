import { createHash, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetPublicKeyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  VerifyCommand,
  type KeySpec,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { expectAwsError } from '../support/errors.js';
import { createKey } from '../support/keys.js';
import { useTestService } from '../support/service.js';

const kms = useTestService();

const SPECS: Array<[KeySpec, SigningAlgorithmSpec, string, string]> = [
  ['ECC_NIST_P256', 'ECDSA_SHA_256', 'sha256', 'prime256v1'],
  ['ECC_NIST_P384', 'ECDSA_SHA_384', 'sha384', 'secp384r1'],
  ['ECC_NIST_P521', 'ECDSA_SHA_512', 'sha512', 'secp521r1'],
  ['ECC_SECG_P256K1', 'ECDSA_SHA_256', 'sha256', 'secp256k1'],
];

async function signingKey(spec: KeySpec): Promise<string> {
  return (await createKey(kms.client, { KeySpec: spec, KeyUsage: 'SIGN_VERIFY' })).KeyId!;
}

describe('ECC signing keys', () => {
  for (const [spec, algorithm, hash, curve] of SPECS) {
    it(`${spec}: signatures verify with Node's crypto and with Verify; flipped bits fail`, async () => {
      const keyId = await signingKey(spec);
      const m = (await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
      expect(m).toMatchObject({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: [algorithm] });
      expect(m.EncryptionAlgorithms).toBeUndefined();

      const pub = await kms.client.send(new GetPublicKeyCommand({ KeyId: keyId }));
      expect(pub).toMatchObject({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: [algorithm] });
      const publicKey = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
      expect(publicKey.asymmetricKeyDetails!.namedCurve).toBe(curve);

      const message = Buffer.from(`a message signed by ${spec}`);
      const raw = await kms.client.send(new SignCommand({ KeyId: keyId, Message: message, MessageType: 'RAW', SigningAlgorithm: algorithm }));
      expect(raw.SigningAlgorithm).toBe(algorithm);
      const signature = Buffer.from(raw.Signature!);
      expect(nodeVerify(hash, message, { key: publicKey, dsaEncoding: 'der' }, signature)).toBe(true);

      // DIGEST: the caller hashes, the token signs the digest; the signature is over the same message.
      const digest = createHash(hash).update(message).digest();
      const fromDigest = Buffer.from((await kms.client.send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: algorithm }))).Signature!);
      expect(nodeVerify(hash, message, { key: publicKey, dsaEncoding: 'der' }, fromDigest)).toBe(true);

      const ok = await kms.client.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: signature, SigningAlgorithm: algorithm }));
      expect(ok.SignatureValid).toBe(true);
      await kms.client.send(new VerifyCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', Signature: fromDigest, SigningAlgorithm: algorithm }));

      const badMessage = Buffer.from(message);
      badMessage[3]! ^= 0x01;
      const badSignature = Buffer.from(signature);
      badSignature[badSignature.length - 1]! ^= 0x01;
      expect(nodeVerify(hash, badMessage, { key: publicKey, dsaEncoding: 'der' }, signature)).toBe(false);
      await expectAwsError(kms.client.send(new VerifyCommand({ KeyId: keyId, Message: badMessage, Signature: signature, SigningAlgorithm: algorithm })), 'KMSInvalidSignatureException');
      await expectAwsError(kms.client.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: badSignature, SigningAlgorithm: algorithm })), 'KMSInvalidSignatureException');
      await expectAwsError(kms.client.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: Buffer.from('not der'), SigningAlgorithm: algorithm })), 'KMSInvalidSignatureException');

      // A flipped bit in the public key: either no valid key at all, or one the signature does not verify under.
      const tamperedSpki = Buffer.from(pub.PublicKey!);
      tamperedSpki[tamperedSpki.length - 1]! ^= 0x01;
      let verifiesUnderTampered = false;
      try {
        verifiesUnderTampered = nodeVerify(hash, message, { key: createPublicKey({ key: tamperedSpki, format: 'der', type: 'spki' }), dsaEncoding: 'der' }, signature);
      } catch {
        verifiesUnderTampered = false;
      }
      expect(verifiesUnderTampered).toBe(false);

      // A signature by another key (Node's own) over the same message does not verify.
      const other = generateKeyPairSync('ec', { namedCurve: curve });
      const foreign = nodeSign(hash, message, { key: other.privateKey, dsaEncoding: 'der' });
      await expectAwsError(kms.client.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: foreign, SigningAlgorithm: algorithm })), 'KMSInvalidSignatureException');
    });
  }

  it('refuses wrong combinations with AWS error types', async () => {
    const keyId = await signingKey('ECC_NIST_P256');
    await expectAwsError(kms.client.send(new SignCommand({ KeyId: keyId, Message: Buffer.from('x'), SigningAlgorithm: 'ECDSA_SHA_384' })), 'InvalidKeyUsageException');
    await expectAwsError(kms.client.send(new SignCommand({ KeyId: keyId, Message: Buffer.alloc(31), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })), 'ValidationException');
    await expectAwsError(kms.client.send(new SignCommand({ KeyId: keyId, Message: Buffer.alloc(4097), SigningAlgorithm: 'ECDSA_SHA_256' })), 'ValidationException');
    await expectAwsError(kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })), 'InvalidKeyUsageException');
    await expectAwsError(kms.client.send(new RotateKeyOnDemandCommand({ KeyId: keyId })), 'UnsupportedOperationException');
    await expectAwsError(kms.client.send(new SignCommand({ KeyId: keyId, Message: Buffer.from('x'), SigningAlgorithm: 'ECDSA_SHA_256', DryRun: true })), 'DryRunOperationException');
    await expectAwsError(kms.client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'ENCRYPT_DECRYPT' })), 'ValidationException');
    const symmetric = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await expectAwsError(kms.client.send(new SignCommand({ KeyId: symmetric, Message: Buffer.from('x'), SigningAlgorithm: 'ECDSA_SHA_256' })), 'InvalidKeyUsageException');
    await expectAwsError(kms.client.send(new GetPublicKeyCommand({ KeyId: symmetric })), 'InvalidKeyUsageException');
  });

  it('destroys both halves of the key pair when the key is deleted', async () => {
    const keyId = await signingKey('ECC_NIST_P256');
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(true);
    expect(await kms.service.token.destroyKey({ keyId, version: 1 })).toBe(true);
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(false);
    await kms.client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
  });
});
