import { CreateKeyCommand, EncryptCommand, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { defaultRequestQuotas, quotaOf, TokenBucket } from '../../src/domain/quotas.js';
import { auditEvents } from '../support/audit.js';
import { expectAwsError } from '../support/errors.js';
import { kmsClientConfig, testAdmin, useTestService } from '../support/service.js';

// Low quotas, so that a test can exceed them: symmetric cryptography 5 a second, CreateKey 2.
const kms = useTestService({ config: { quotas: { 'cryptographic-symmetric': 5, CreateKey: 2 } } });

const settled = (calls: Array<Promise<unknown>>) => Promise.all(calls.map((c) => c.then(() => 'ok', (e: Error) => e.name)));

describe('request quotas', () => {
  it('answer ThrottlingException past the rate, as AWS does, and serve again a second later', async () => {
    const keyId = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await new Promise((r) => setTimeout(r, 1100)); // a full bucket
    const started = performance.now();
    const outcomes = await settled(Array.from({ length: 20 }, () => kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))));
    // A burst of one second's worth (5), plus what refills while the 20 calls are served (a busy machine serves them slower).
    const mostServed = 5 + Math.ceil((5 * (performance.now() - started)) / 1000) + 1;
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThanOrEqual(5);
    expect(outcomes.filter((o) => o === 'ok').length).toBeLessThanOrEqual(mostServed);
    expect(outcomes.filter((o) => o === 'ThrottlingException').length).toBeGreaterThanOrEqual(20 - mostServed);
    // The bucket is empty now; on a busy machine a token may have come back meanwhile, so a few calls more find the refusal.
    let throttled: (Error & { $metadata?: { httpStatusCode?: number } }) | undefined;
    for (let i = 0; i < 10 && !throttled; i++) {
      throttled = await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })).then(
        () => undefined,
        (e: Error) => e,
      );
    }
    expect(throttled?.name).toBe('ThrottlingException');
    expect(throttled!.message).toBe('You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.');
    expect(throttled!.$metadata?.httpStatusCode).toBe(400);
    // Quotas are counted apart: management operations still answer.
    await kms.client.send(new ListKeysCommand({}));

    await new Promise((r) => setTimeout(r, 1100));
    await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('after a second') }));
    const events = await auditEvents(kms.service.audit.dir);
    expect(events.filter((e) => e.errorCode === 'ThrottlingException').length).toBe(outcomes.filter((o) => o === 'ThrottlingException').length + 1);
  });

  it('are counted per account: another account is not throttled by this one', async () => {
    const { AccessKey } = (await testAdmin(kms.endpoint)('CreateAccount', { AccountId: '222233334444' })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
    const other = new KMSClient(kmsClientConfig(kms.endpoint, AccessKey.AccessKeyId, AccessKey.SecretAccessKey));
    try {
      await new Promise((r) => setTimeout(r, 1100));
      const otherKey = (await other.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const mine = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      // This account spends its CreateKey quota (2 a second); the other account's is its own.
      await expectAwsError(kms.client.send(new CreateKeyCommand({})).then(() => kms.client.send(new CreateKeyCommand({}))), 'ThrottlingException');
      await other.send(new CreateKeyCommand({}));
      await settled(Array.from({ length: 10 }, () => kms.client.send(new EncryptCommand({ KeyId: mine, Plaintext: Buffer.from('x') }))));
      await other.send(new EncryptCommand({ KeyId: otherKey, Plaintext: Buffer.from('not throttled') }));
    } finally {
      other.destroy();
    }
  });

  it('follow AWS: by key type for cryptography, by key pair spec for data key pairs, per operation for management', () => {
    expect(quotaOf('Encrypt', 'SYMMETRIC_DEFAULT')).toBe('cryptographic-symmetric');
    expect(quotaOf('GenerateMac', 'HMAC_256')).toBe('cryptographic-symmetric');
    expect(quotaOf('GenerateRandom', undefined)).toBe('cryptographic-symmetric');
    expect(quotaOf('Decrypt', 'RSA_2048')).toBe('cryptographic-rsa');
    expect(quotaOf('Sign', 'ECC_NIST_P256')).toBe('cryptographic-ecc');
    expect(quotaOf('Sign', 'ECC_NIST_EDWARDS25519')).toBe('cryptographic-ecc');
    expect(quotaOf('GenerateDataKeyPair', 'SYMMETRIC_DEFAULT', 'RSA_4096')).toBe('GenerateDataKeyPair-RSA_4096');
    expect(quotaOf('CreateKey', undefined)).toBe('CreateKey');
    expect(quotaOf('CreatePrincipal', undefined)).toBeUndefined();
    const us = defaultRequestQuotas('us-east-1');
    expect([us.get('cryptographic-symmetric'), defaultRequestQuotas('eu-central-1').get('cryptographic-symmetric'), defaultRequestQuotas('sa-east-1').get('cryptographic-symmetric')]).toEqual([100_000, 20_000, 10_000]);
    expect([us.get('cryptographic-rsa'), us.get('GenerateDataKeyPair-RSA_4096'), us.get('CreateKey'), us.get('DescribeKey')]).toEqual([1000, 1, 5, 2000]);
  });

  it('refill at their rate, with a burst of one second', () => {
    const bucket = new TokenBucket(2, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, false]);
    expect(bucket.take(499)).toBe(false);
    expect(bucket.take(500)).toBe(true);
    const slow = new TokenBucket(0.1, 0); // RSA_4096 data key pairs in China: one in ten seconds
    expect([slow.take(0), slow.take(9_000), slow.take(10_000)]).toEqual([true, false, true]);
  });
});

describe('the resource quota of keys per account', () => {
  const limited = useTestService({ config: { maxKeysPerAccount: 3 } });

  it('refuses a key past it with LimitExceededException, and counts each account apart', async () => {
    const { AccessKey } = (await testAdmin(limited.endpoint)('CreateAccount', { AccountId: '333344445555' })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
    for (let i = 0; i < 3; i++) await limited.client.send(new CreateKeyCommand({}));
    const refused = await expectAwsError(limited.client.send(new CreateKeyCommand({})), 'LimitExceededException');
    expect(refused.message).toBe('This account has 3 KMS keys in this Region, the most it may have.');
    expect((await limited.service.store.listKeys({ accountId: '111122223333', region: 'us-east-1' }, undefined, 10)).items).toHaveLength(3);
    const other = new KMSClient(kmsClientConfig(limited.endpoint, AccessKey.AccessKeyId, AccessKey.SecretAccessKey));
    try {
      await other.send(new CreateKeyCommand({}));
    } finally {
      other.destroy();
    }
  });
});

describe('the resource quota of keys per account, under concurrent creation', () => {
  const limited = useTestService({ config: { maxKeysPerAccount: 4 } });

  // The count and the claim are one (immediate) transaction in the store, which is what holds across workers too.
  it('stops concurrent CreateKeys exactly at it', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, () =>
        limited.client.send(new CreateKeyCommand({})).then(
          () => 'created',
          (e: Error) => e.name,
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(4);
    expect(outcomes.filter((o) => o === 'LimitExceededException')).toHaveLength(8);
    expect((await limited.service.store.listKeys({ accountId: '111122223333', region: 'us-east-1' }, undefined, 20)).items).toHaveLength(4);
  });
});
