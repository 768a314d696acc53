import {
  CreateAliasCommand,
  DecryptCommand,
  DisableKeyCommand,
  EncryptCommand,
  GetKeyLastUsageCommand,
  ReEncryptCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultKeyPolicy } from '../../src/domain/default-policy.js';
import { auditEvents } from '../support/audit.js';
import { DAY_MS, TestClock } from '../support/clock.js';
import { expectAwsError } from '../support/errors.js';
import { createKey } from '../support/keys.js';
import { spawnService } from '../support/process.js';
import { kmsClient, startTestService, useTestService } from '../support/service.js';

const clock = new TestClock();
const kms = useTestService({ clock, config: { schedulerIntervalMs: 0 } });

const lastUsage = (keyId: string) => kms.client.send(new GetKeyLastUsageCommand({ KeyId: keyId }));

describe('GetKeyLastUsage', () => {
  it('answers an unused key with an empty KeyLastUsage, its creation date and when tracking began', async () => {
    const key = await createKey(kms.client);
    const out = await lastUsage(key.Arn!);
    expect(out.KeyId).toBe(key.KeyId);
    expect(out.KeyLastUsage).toEqual({});
    expect(out.KeyCreationDate).toEqual(key.CreationDate);
    // The later of the key's creation and the start of tracking (this database's first start).
    expect(out.TrackingStartDate!.getTime()).toBe(key.CreationDate!.getTime());
  });

  it('tells the last successful cryptographic use, with the audit event and request of that call', async () => {
    const key = await createKey(kms.client);
    const encrypted = await kms.client.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('used'), EncryptionContext: { a: 'b' } }));
    const out = await lastUsage(key.KeyId!);
    expect(out.KeyLastUsage).toMatchObject({ Operation: 'Encrypt', KmsRequestId: encrypted.$metadata.requestId });
    expect(Math.abs(out.KeyLastUsage!.Timestamp!.getTime() - Date.now())).toBeLessThan(60_000);
    const event = (await auditEvents(kms.service.audit.dir)).find((e) => e.requestID === encrypted.$metadata.requestId)!;
    expect(out.KeyLastUsage!.CloudTrailEventId).toBe(event.eventID);

    // Failures and dry runs are not uses.
    await expectAwsError(kms.client.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: { a: 'wrong' } })), 'InvalidCiphertextException');
    await expectAwsError(kms.client.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x'), DryRun: true })), 'DryRunOperationException');
    expect((await lastUsage(key.KeyId!)).KeyLastUsage!.KmsRequestId).toBe(encrypted.$metadata.requestId);

    await kms.client.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: { a: 'b' } }));
    expect((await lastUsage(key.KeyId!)).KeyLastUsage!.Operation).toBe('Decrypt');
  });

  it('records ReEncrypt for both its keys, and not a signature that fails to verify', async () => {
    const source = await createKey(kms.client);
    const destination = await createKey(kms.client);
    const { CiphertextBlob } = await kms.client.send(new EncryptCommand({ KeyId: source.KeyId, Plaintext: Buffer.from('moving') }));
    const moved = await kms.client.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: destination.KeyId }));
    for (const key of [source, destination]) expect((await lastUsage(key.KeyId!)).KeyLastUsage).toMatchObject({ Operation: 'ReEncrypt', KmsRequestId: moved.$metadata.requestId });

    const signer = await createKey(kms.client, { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const message = Buffer.from('signed');
    const { Signature } = await kms.client.send(new SignCommand({ KeyId: signer.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }));
    const forged = Buffer.from(Signature!);
    forged[forged.length - 1]! ^= 1;
    await expectAwsError(kms.client.send(new VerifyCommand({ KeyId: signer.KeyId, Message: message, Signature: forged, SigningAlgorithm: 'ECDSA_SHA_256' })), 'KMSInvalidSignatureException');
    expect((await lastUsage(signer.KeyId!)).KeyLastUsage!.Operation).toBe('Sign');
  });

  it('answers for a disabled key, refuses alias names and unknown keys as AWS does', async () => {
    const key = await createKey(kms.client);
    await kms.client.send(new CreateAliasCommand({ AliasName: 'alias/last-usage', TargetKeyId: key.KeyId }));
    await kms.client.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    expect((await lastUsage(key.KeyId!)).KeyLastUsage).toEqual({});
    await expectAwsError(lastUsage('alias/last-usage'), 'NotFoundException');
    await expectAwsError(lastUsage('00000000-0000-4000-8000-000000000000'), 'NotFoundException');
  });

  it('keeps the last use across a restart (written in batches, never per request)', async () => {
    const restartable = await startTestService({ config: { keyUsageFlushMs: 60_000 } });
    try {
      const key = await createKey(restartable.client);
      const { $metadata } = await restartable.client.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('remember me') }));
      // Nothing is in the database yet: the last use waits in memory for the next batch.
      expect(await restartable.service.store.usage.lastUsage(key.KeyId!)).toBeUndefined();
      await restartable.stop(); // a graceful stop writes the batch
      const again = await startTestService({ dataDir: restartable.dataDir });
      try {
        expect((await again.client.send(new GetKeyLastUsageCommand({ KeyId: key.KeyId }))).KeyLastUsage!.KmsRequestId).toBe($metadata.requestId);
      } finally {
        await again.stop();
      }
    } finally {
      await restartable.cleanup();
    }
  });
});

describe('GetKeyLastUsage after a crash', () => {
  it('takes the last uses that were not written to the database yet back from the audit trail', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-usage-kill-'));
    try {
      const spawned = spawnService(dataDir, undefined, { KMS_KEY_USAGE_FLUSH_MS: '600000' });
      const client = kmsClient(await spawned.url);
      const key = await createKey(client);
      const used = await client.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('just before the crash') }));
      client.destroy();
      await spawned.stop('SIGKILL');

      // A process of its own again: the token is the data folder's (in this process, SoftHSM keeps the first test's).
      const again = spawnService(dataDir);
      const againClient = kmsClient(await again.url);
      try {
        const out = await againClient.send(new GetKeyLastUsageCommand({ KeyId: key.KeyId }));
        const event = (await auditEvents(path.join(dataDir, 'audit'))).find((e) => e.requestID === used.$metadata.requestId)!;
        expect(out.KeyLastUsage).toMatchObject({ Operation: 'Encrypt', KmsRequestId: used.$metadata.requestId, CloudTrailEventId: event.eventID });
      } finally {
        againClient.destroy();
        await again.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('kms:TrailingDaysWithoutKeyUsage', () => {
  const guarded = (account: string) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        ...JSON.parse(defaultKeyPolicy(account)).Statement,
        {
          Sid: 'Keep keys in use',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: ['kms:DisableKey', 'kms:ScheduleKeyDeletion'],
          Resource: '*',
          Condition: { NumericLessThan: { 'kms:TrailingDaysWithoutKeyUsage': '30' } },
        },
      ],
    });

  it('keeps a key used in the last 30 days from being disabled or deleted, and lets it go once unused for 30 days', async () => {
    const used = await createKey(kms.client, { Policy: guarded('111122223333') });
    const unused = await createKey(kms.client, { Policy: guarded('111122223333') });
    await kms.client.send(new EncryptCommand({ KeyId: used.KeyId, Plaintext: Buffer.from('busy') }));

    for (const key of [used, unused]) {
      const denied = await expectAwsError(kms.client.send(new DisableKeyCommand({ KeyId: key.KeyId })), 'AccessDeniedException');
      expect(denied.message).toContain('with an explicit deny in a resource-based policy');
      await expectAwsError(kms.client.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 })), 'AccessDeniedException');
    }

    clock.advance(29 * DAY_MS);
    await expectAwsError(kms.client.send(new DisableKeyCommand({ KeyId: used.KeyId })), 'AccessDeniedException');
    clock.advance(2 * DAY_MS);
    await kms.client.send(new DisableKeyCommand({ KeyId: used.KeyId }));
    await kms.client.send(new ScheduleKeyDeletionCommand({ KeyId: unused.KeyId, PendingWindowInDays: 7 }));
  });
});
