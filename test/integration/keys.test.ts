import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  ListAliasesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../support/clock.js';
import { expectAwsError } from '../support/errors.js';
import { createKey } from '../support/keys.js';
import { useTestService } from '../support/service.js';

let client: KMSClient;
const ACCOUNT = '111122223333';
const arnOf = (keyId: string) => `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`;

const kms = useTestService();
beforeAll(async () => {
  client = kms.client;
});

async function newKey(description = ''): Promise<string> {
  return (await createKey(client, { Description: description })).KeyId!;
}

describe('CreateKey and DescribeKey', () => {
  it('creates an enabled symmetric key with AWS-shaped metadata', async () => {
    const before = Date.now();
    const { KeyMetadata: m } = await client.send(
      new CreateKeyCommand({ Description: 'orders', Tags: [{ TagKey: 'team', TagValue: 'payments' }] }),
    );
    expect(m!.KeyId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(m).toMatchObject({
      AWSAccountId: ACCOUNT,
      Arn: arnOf(m!.KeyId!),
      Description: 'orders',
      Enabled: true,
      KeyState: 'Enabled',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      MultiRegion: false,
    });
    expect(m!.CreationDate).toBeInstanceOf(Date);
    expect(m!.CreationDate!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    const tags = await client.send(new ListResourceTagsCommand({ KeyId: m!.KeyId }));
    expect(tags.Tags).toEqual([{ TagKey: 'team', TagValue: 'payments' }]);
  });

  it('describes a key by id, key ARN, alias name and alias ARN', async () => {
    const keyId = await newKey('described');
    await client.send(new CreateAliasCommand({ AliasName: 'alias/described', TargetKeyId: keyId }));
    for (const ref of [keyId, arnOf(keyId), 'alias/described', `arn:aws:kms:us-east-1:${ACCOUNT}:alias/described`]) {
      const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId: ref }));
      expect(KeyMetadata!.KeyId, ref).toBe(keyId);
    }
  });

  it('answers NotFoundException for unknown keys, aliases, and ARNs of another region or account', async () => {
    await expectAwsError(client.send(new DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })), 'NotFoundException');
    await expectAwsError(client.send(new DescribeKeyCommand({ KeyId: 'alias/nope' })), 'NotFoundException');
    await expectAwsError(client.send(new DescribeKeyCommand({ KeyId: 'not-a-key' })), 'NotFoundException');
    const keyId = await newKey();
    await expectAwsError(client.send(new DescribeKeyCommand({ KeyId: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${keyId}` })), 'NotFoundException');
    await expectAwsError(client.send(new DescribeKeyCommand({ KeyId: `arn:aws:kms:us-east-1:999999999999:key/${keyId}` })), 'NotFoundException');
  });

  it('refuses what it does not support and malformed policies', async () => {
    await expectAwsError(client.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'GENERATE_VERIFY_MAC' })), 'ValidationException');
    await expectAwsError(client.send(new CreateKeyCommand({ KeySpec: 'SM2', KeyUsage: 'SIGN_VERIFY' })), 'UnsupportedOperationException');
    await expectAwsError(client.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM' })), 'UnsupportedOperationException');
    await expectAwsError(client.send(new CreateKeyCommand({ MultiRegion: true, CustomKeyStoreId: 'cks-1234567890abcdef0' })), 'UnsupportedOperationException');
    await expectAwsError(client.send(new CreateKeyCommand({ Policy: '{not json' })), 'MalformedPolicyDocumentException');
    await expectAwsError(client.send(new CreateKeyCommand({ Description: 'x'.repeat(8193) })), 'ValidationException');
    await expectAwsError(client.send(new CreateKeyCommand({ Tags: [{ TagKey: 'aws:reserved', TagValue: 'x' }] })), 'TagException');
  });
});

describe('ListKeys', () => {
  it('pages through every key exactly once with Limit and Marker', async () => {
    const created = new Set<string>();
    for (let i = 0; i < 7; i++) created.add(await newKey(`page ${i}`));
    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(new ListKeysCommand({ Limit: 3, Marker: marker }));
      expect(page.Keys!.length).toBeLessThanOrEqual(3);
      for (const k of page.Keys!) {
        expect(k.KeyArn).toBe(arnOf(k.KeyId!));
        seen.push(k.KeyId!);
      }
      expect(page.Truncated).toBe(page.NextMarker !== undefined);
      marker = page.NextMarker;
      pages++;
    } while (marker);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of created) expect(seen).toContain(id);
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it('rejects a forged marker and an out-of-range limit', async () => {
    await expectAwsError(client.send(new ListKeysCommand({ Marker: '!!not-a-marker!!' })), 'InvalidMarkerException');
    await expectAwsError(client.send(new ListKeysCommand({ Limit: 1001 })), 'ValidationException');
  });
});

describe('key states', () => {
  it('disables, enables and updates the description', async () => {
    const keyId = await newKey('v1');
    await client.send(new DisableKeyCommand({ KeyId: keyId }));
    let m = (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(m.KeyState).toBe('Disabled');
    expect(m.Enabled).toBe(false);
    await client.send(new EnableKeyCommand({ KeyId: arnOf(keyId) }));
    await client.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: 'v2' }));
    m = (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(m.KeyState).toBe('Enabled');
    expect(m.Description).toBe('v2');
  });

  it('schedules deletion with the window and DeletionDate, and cancelling leaves the key Disabled', async () => {
    const keyId = await newKey();
    const before = Date.now();
    const scheduled = await client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    expect(scheduled.KeyId).toBe(arnOf(keyId));
    expect(scheduled.KeyState).toBe('PendingDeletion');
    expect(scheduled.PendingWindowInDays).toBe(7);
    const expected = before + 7 * DAY_MS;
    expect(Math.abs(scheduled.DeletionDate!.getTime() - expected)).toBeLessThan(60_000);
    const m = (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(m.KeyState).toBe('PendingDeletion');
    expect(m.DeletionDate).toBeInstanceOf(Date);
    // AWS shows PendingDeletionWindowInDays only for PendingReplicaDeletion (multi-Region primaries); ScheduleKeyDeletion answered it above.
    expect(m.PendingDeletionWindowInDays).toBeUndefined();

    await expectAwsError(client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId })), 'KMSInvalidStateException');
    await expectAwsError(client.send(new EnableKeyCommand({ KeyId: keyId })), 'KMSInvalidStateException');
    await expectAwsError(client.send(new DisableKeyCommand({ KeyId: keyId })), 'KMSInvalidStateException');
    await expectAwsError(client.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: 'x' })), 'KMSInvalidStateException');
    await expectAwsError(client.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] })), 'KMSInvalidStateException');
    await expectAwsError(client.send(new CreateAliasCommand({ AliasName: 'alias/doomed', TargetKeyId: keyId })), 'KMSInvalidStateException');

    const cancelled = await client.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    expect(cancelled.KeyId).toBe(arnOf(keyId));
    const after = (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(after.KeyState).toBe('Disabled');
    expect(after.DeletionDate).toBeUndefined();
    await expectAwsError(client.send(new CancelKeyDeletionCommand({ KeyId: keyId })), 'KMSInvalidStateException');
  });

  it('defaults the deletion window to 30 days and validates it', async () => {
    const keyId = await newKey();
    await expectAwsError(client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 6 })), 'ValidationException');
    await expectAwsError(client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 31 })), 'ValidationException');
    const scheduled = await client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId }));
    expect(scheduled.PendingWindowInDays).toBe(30);
  });

  it('takes only key ids and key ARNs where AWS does', async () => {
    const keyId = await newKey();
    await client.send(new CreateAliasCommand({ AliasName: 'alias/no-admin-by-alias', TargetKeyId: keyId }));
    await expectAwsError(client.send(new DisableKeyCommand({ KeyId: 'alias/no-admin-by-alias' })), 'NotFoundException');
    await expectAwsError(client.send(new ScheduleKeyDeletionCommand({ KeyId: 'alias/no-admin-by-alias' })), 'NotFoundException');
  });
});

describe('aliases', () => {
  it('creates, lists, retargets and deletes aliases', async () => {
    const a = await newKey();
    const b = await newKey();
    await client.send(new CreateAliasCommand({ AliasName: 'alias/app/orders', TargetKeyId: arnOf(a) }));
    await expectAwsError(client.send(new CreateAliasCommand({ AliasName: 'alias/app/orders', TargetKeyId: b })), 'AlreadyExistsException');

    let listed = await client.send(new ListAliasesCommand({ KeyId: a }));
    expect(listed.Aliases).toHaveLength(1);
    expect(listed.Aliases![0]).toMatchObject({
      AliasName: 'alias/app/orders',
      AliasArn: `arn:aws:kms:us-east-1:${ACCOUNT}:alias/app/orders`,
      TargetKeyId: a,
    });
    expect(listed.Aliases![0]!.CreationDate).toBeInstanceOf(Date);

    await client.send(new UpdateAliasCommand({ AliasName: 'alias/app/orders', TargetKeyId: b }));
    expect((await client.send(new DescribeKeyCommand({ KeyId: 'alias/app/orders' }))).KeyMetadata!.KeyId).toBe(b);
    listed = await client.send(new ListAliasesCommand({ KeyId: a }));
    expect(listed.Aliases).toHaveLength(0);

    await client.send(new DeleteAliasCommand({ AliasName: 'alias/app/orders' }));
    await expectAwsError(client.send(new DescribeKeyCommand({ KeyId: 'alias/app/orders' })), 'NotFoundException');
    await expectAwsError(client.send(new DeleteAliasCommand({ AliasName: 'alias/app/orders' })), 'NotFoundException');
    await expectAwsError(client.send(new UpdateAliasCommand({ AliasName: 'alias/app/orders', TargetKeyId: a })), 'NotFoundException');
  });

  it('validates alias names and targets as AWS does', async () => {
    const keyId = await newKey();
    await expectAwsError(client.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: keyId })), 'InvalidAliasNameException');
    await expectAwsError(client.send(new CreateAliasCommand({ AliasName: 'no-prefix', TargetKeyId: keyId })), 'ValidationException');
    await expectAwsError(client.send(new CreateAliasCommand({ AliasName: 'alias/bad name!', TargetKeyId: keyId })), 'ValidationException');
    await expectAwsError(client.send(new CreateAliasCommand({ AliasName: 'alias/a:b', TargetKeyId: keyId })), 'ValidationException');
    await client.send(new CreateAliasCommand({ AliasName: 'alias/target', TargetKeyId: keyId }));
    await expectAwsError(client.send(new CreateAliasCommand({ AliasName: 'alias/chained', TargetKeyId: 'alias/target' })), 'NotFoundException');
    await expectAwsError(
      client.send(new CreateAliasCommand({ AliasName: 'alias/ghost', TargetKeyId: '00000000-0000-4000-8000-000000000000' })),
      'NotFoundException',
    );
  });

  it('pages through aliases', async () => {
    const keyId = await newKey();
    for (let i = 0; i < 5; i++) await client.send(new CreateAliasCommand({ AliasName: `alias/paged-${i}`, TargetKeyId: keyId }));
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const page = await client.send(new ListAliasesCommand({ KeyId: keyId, Limit: 2, Marker: marker }));
      names.push(...page.Aliases!.map((a) => a.AliasName!));
      marker = page.NextMarker;
      expect(page.Truncated).toBe(marker !== undefined);
    } while (marker);
    expect(names).toEqual(['alias/paged-0', 'alias/paged-1', 'alias/paged-2', 'alias/paged-3', 'alias/paged-4']);
  });
});

describe('tags', () => {
  it('adds, overwrites, lists with pagination and removes tags', async () => {
    const keyId = await newKey();
    await client.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'a', TagValue: '1' }, { TagKey: 'b', TagValue: '2' }, { TagKey: 'c', TagValue: '' }] }));
    await client.send(new TagResourceCommand({ KeyId: arnOf(keyId), Tags: [{ TagKey: 'a', TagValue: 'one' }] }));
    const first = await client.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 2 }));
    expect(first.Tags).toEqual([{ TagKey: 'a', TagValue: 'one' }, { TagKey: 'b', TagValue: '2' }]);
    expect(first.Truncated).toBe(true);
    const second = await client.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 2, Marker: first.NextMarker }));
    expect(second.Tags).toEqual([{ TagKey: 'c', TagValue: '' }]);
    expect(second.Truncated).toBe(false);
    await client.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: ['a', 'c', 'absent'] }));
    expect((await client.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags).toEqual([{ TagKey: 'b', TagValue: '2' }]);
  });

  it('enforces the tag limits', async () => {
    const keyId = await newKey();
    await expectAwsError(client.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'aws:x', TagValue: '1' }] })), 'TagException');
    await expectAwsError(client.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'k'.repeat(129), TagValue: '1' }] })), 'ValidationException');
    const fifty = Array.from({ length: 50 }, (_, i) => ({ TagKey: `t${i}`, TagValue: 'v' }));
    await client.send(new TagResourceCommand({ KeyId: keyId, Tags: fifty }));
    await expectAwsError(client.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'one-more', TagValue: 'v' }] })), 'LimitExceededException');
    expect((await client.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags).toHaveLength(50);
    await expectAwsError(client.send(new TagResourceCommand({ KeyId: '00000000-0000-4000-8000-000000000000', Tags: [{ TagKey: 'a', TagValue: 'b' }] })), 'NotFoundException');
  });
});
