import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import {
  CreateKeyCommand,
  DecryptCommand,
  GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand,
  type DataKeyPairSpec,
} from '@aws-sdk/client-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectAwsError } from '../support/errors.js';
import { useTestService } from '../support/service.js';

let keyId: string;
const kms = useTestService();
beforeAll(async () => {
  keyId = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
});

const SPECS: DataKeyPairSpec[] = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1'];
const context = { purpose: 'data key pair' };

/** The private key signs, the public key verifies: they are one pair. */
function samePair(privateDer: Uint8Array, publicDer: Uint8Array): boolean {
  const privateKey = createPrivateKey({ key: Buffer.from(privateDer), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey({ key: Buffer.from(publicDer), format: 'der', type: 'spki' });
  const signature = sign('sha256', Buffer.from('pair check'), privateKey);
  return verify('sha256', Buffer.from('pair check'), publicKey, signature);
}

describe('data key pairs', () => {
  for (const spec of SPECS) {
    it(`${spec}: returns a PKCS#8 private key, its public key, and the private key sealed under the KMS key`, async () => {
      const out = await kms.client.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: spec, EncryptionContext: context }));
      expect(out.KeyPairSpec).toBe(spec);
      expect(out.KeyId).toMatch(new RegExp(`:key/${keyId}$`));
      expect(samePair(out.PrivateKeyPlaintext!, out.PublicKey!)).toBe(true);
      const opened = await kms.client.send(new DecryptCommand({ CiphertextBlob: out.PrivateKeyCiphertextBlob, EncryptionContext: context }));
      expect(Buffer.from(opened.Plaintext!).equals(Buffer.from(out.PrivateKeyPlaintext!))).toBe(true);
      await expectAwsError(kms.client.send(new DecryptCommand({ CiphertextBlob: out.PrivateKeyCiphertextBlob })), 'InvalidCiphertextException');

      const without = await kms.client.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: keyId, KeyPairSpec: spec }));
      expect((without as { PrivateKeyPlaintext?: unknown }).PrivateKeyPlaintext).toBeUndefined();
      const later = await kms.client.send(new DecryptCommand({ CiphertextBlob: without.PrivateKeyCiphertextBlob }));
      expect(samePair(later.Plaintext!, without.PublicKey!)).toBe(true);
    });
  }

  it('needs a symmetric encryption key and a supported spec', async () => {
    const mac = (await kms.client.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!.KeyId!;
    await expectAwsError(kms.client.send(new GenerateDataKeyPairCommand({ KeyId: mac, KeyPairSpec: 'ECC_NIST_P256' })), 'InvalidKeyUsageException');
    await expectAwsError(kms.client.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'SM2' })), 'UnsupportedOperationException');
    await expectAwsError(kms.client.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256', DryRun: true })), 'DryRunOperationException');
  });
});
