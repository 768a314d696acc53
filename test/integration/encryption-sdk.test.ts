import { randomBytes } from 'node:crypto';
import { buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node';
import { KMS } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { createKey } from '../support/keys.js';
import { kmsClientConfig, useTestService } from '../support/service.js';

const clients: KMS[] = [];

const kms = useTestService();
afterAll(async () => {
  for (const c of clients) c.destroy();
});

/** A KMS keyring whose client talks to this service instead of AWS. */
function keyring(generatorKeyId: string): KmsKeyringNode {
  return new KmsKeyringNode({
    generatorKeyId,
    clientProvider: (region: string) => {
      const client = new KMS({ ...kmsClientConfig(kms.endpoint), region });
      clients.push(client);
      return client;
    },
  });
}

async function newKeyArn(): Promise<string> {
  return (await createKey(kms.client, { Description: 'encryption sdk' })).Arn!;
}

describe('AWS Encryption SDK for JavaScript', () => {
  it('encrypts and decrypts a 1 MiB message with an encryption context through a KMS keyring', async () => {
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const ring = keyring(await newKeyArn());
    const message = randomBytes(1024 * 1024);
    const context = { purpose: 'test', tenant: 'a' };

    const { result } = await encrypt(ring, message, { encryptionContext: context });
    expect(result.length).toBeGreaterThan(message.length);
    expect(result.includes(message.subarray(0, 64))).toBe(false);

    const { plaintext, messageHeader } = await decrypt(ring, result);
    expect(Buffer.from(plaintext).equals(message)).toBe(true);
    expect(messageHeader.encryptionContext).toMatchObject(context);
    expect(messageHeader.encryptedDataKeys).toHaveLength(1);
    expect(messageHeader.encryptedDataKeys[0]!.providerId).toBe('aws-kms');
  });

  it('cannot decrypt with a keyring for another key', async () => {
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const { result } = await encrypt(keyring(await newKeyArn()), Buffer.from('for one key only'), { encryptionContext: { a: 'b' } });
    await expect(decrypt(keyring(await newKeyArn()), result)).rejects.toThrow();
  });
});
