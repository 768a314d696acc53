import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  ListAliasesCommand,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { DAY_MS as DAY, TestClock } from '../support/clock.js';
import { expectAwsError } from '../support/errors.js';
import { useTestService } from '../support/service.js';

const clock = new TestClock();

// The timer is off: the test runs the job itself, after moving the clock.
const kms = useTestService({ clock, config: { schedulerIntervalMs: 0 } });

async function keyWithCiphertext(alias?: string) {
  const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({}));
  const keyId = KeyMetadata!.KeyId!;
  if (alias) await kms.client.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
  const blob = (await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('to be shredded') }))).CiphertextBlob!;
  return { keyId, blob };
}

describe('destruction after the deletion window', () => {
  it('destroys the token object, forgets the key and its aliases, and records what was destroyed', async () => {
    const doomed = await keyWithCiphertext('alias/doomed');
    const later = await keyWithCiphertext();
    const cancelled = await keyWithCiphertext();
    await kms.client.send(new ScheduleKeyDeletionCommand({ KeyId: doomed.keyId, PendingWindowInDays: 7 }));
    await kms.client.send(new ScheduleKeyDeletionCommand({ KeyId: later.keyId, PendingWindowInDays: 30 }));
    await kms.client.send(new ScheduleKeyDeletionCommand({ KeyId: cancelled.keyId, PendingWindowInDays: 7 }));
    await kms.client.send(new CancelKeyDeletionCommand({ KeyId: cancelled.keyId }));

    // Inside the window nothing happens.
    clock.advance(7 * DAY - 60_000);
    await kms.service.runScheduledJobs();
    expect(await kms.service.token.hasKey({ keyId: doomed.keyId, version: 1 })).toBe(true);
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: doomed.keyId }))).KeyMetadata!.KeyState).toBe('PendingDeletion');

    clock.advance(2 * 60_000);
    await kms.service.runScheduledJobs();

    expect(await kms.service.token.hasKey({ keyId: doomed.keyId, version: 1 })).toBe(false);
    await expectAwsError(kms.client.send(new DescribeKeyCommand({ KeyId: doomed.keyId })), 'NotFoundException');
    await expectAwsError(kms.client.send(new DescribeKeyCommand({ KeyId: 'alias/doomed' })), 'NotFoundException');
    await expectAwsError(kms.client.send(new DecryptCommand({ CiphertextBlob: doomed.blob })), 'InvalidCiphertextException');
    const keys = (await kms.client.send(new ListKeysCommand({}))).Keys!.map((k) => k.KeyId);
    expect(keys).not.toContain(doomed.keyId);
    const aliases = (await kms.client.send(new ListAliasesCommand({}))).Aliases!.map((a) => a.AliasName);
    expect(aliases).not.toContain('alias/doomed');
    const record = await kms.service.store.listDestroyedKeyMaterial(doomed.keyId);
    expect(record).toHaveLength(1);
    expect(record[0]!.version).toBe(1);
    expect(record[0]!.destroyedAt.getTime()).toBeGreaterThan(Date.now() + 7 * DAY - 60_000);

    // The key with a longer window and the cancelled key are untouched.
    expect(await kms.service.token.hasKey({ keyId: later.keyId, version: 1 })).toBe(true);
    expect(await kms.service.token.hasKey({ keyId: cancelled.keyId, version: 1 })).toBe(true);
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: later.keyId }))).KeyMetadata!.KeyState).toBe('PendingDeletion');
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: cancelled.keyId }))).KeyMetadata!.KeyState).toBe('Disabled');

    // A second run finds nothing more to do.
    await kms.service.runScheduledJobs();
    expect(await kms.service.store.listDestroyedKeyMaterial(doomed.keyId)).toHaveLength(1);
  });

  it('finishes a destruction that a crash interrupted, and refuses to cancel it meanwhile', async () => {
    const k = await keyWithCiphertext();
    await kms.client.send(new ScheduleKeyDeletionCommand({ KeyId: k.keyId, PendingWindowInDays: 7 }));
    clock.advance(8 * DAY);
    // Replay the job up to a crash right after C_DestroyObject: begun, material gone, key not yet marked deleted.
    expect(await kms.service.store.beginKeyDestruction(k.keyId, clock.now())).toBe(true);
    expect(await kms.service.token.destroyKey({ keyId: k.keyId, version: 1 })).toBe(true);

    await expectAwsError(kms.client.send(new CancelKeyDeletionCommand({ KeyId: k.keyId })), 'KMSInvalidStateException');
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: k.keyId }))).KeyMetadata!.KeyState).toBe('PendingDeletion');

    await kms.service.runScheduledJobs();
    await expectAwsError(kms.client.send(new DescribeKeyCommand({ KeyId: k.keyId })), 'NotFoundException');
    expect(await kms.service.store.listDestroyedKeyMaterial(k.keyId)).toHaveLength(1);
  });
});
