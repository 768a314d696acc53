import { constants, createPublicKey, createVerify, publicEncrypt, randomBytes } from 'node:crypto';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  GetParametersForImportCommand,
  GetPublicKeyCommand,
  ImportKeyMaterialCommand,
  KMSClient,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ReEncryptCommand,
  ReplicateKeyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  UpdatePrimaryRegionCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { auditEvents } from '../support/audit.js';
import { DAY_MS, TestClock } from '../support/clock.js';
import { expectAwsError } from '../support/errors.js';
import { kmsClientConfig, testAdmin, useRegionClients, useTestService } from '../support/service.js';

const ACCOUNT = '111122223333';
const clock = new TestClock();
/** One deployment serving three regions; the scheduler runs when a test says so. */
const kms = useTestService({ clock, config: { otherRegions: ['eu-west-1', 'ap-southeast-2'], schedulerIntervalMs: 0 } });
const inRegion = useRegionClients(kms);
const arnIn = (region: string, keyId: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}`;
const text = (b: Uint8Array | undefined) => Buffer.from(b!).toString();

async function importInto(client: KMSClient, keyId: string, material: Buffer) {
  const params = await client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
  const wrapped = publicEncrypt({ key: createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, material);
  return client.send(new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
}

async function primaryKey(spec: { KeySpec?: 'ECC_NIST_P256'; KeyUsage?: 'SIGN_VERIFY' } = {}) {
  const us = inRegion('us-east-1');
  const { KeyMetadata } = await us.send(new CreateKeyCommand({ MultiRegion: true, Description: 'primary', ...spec }));
  return { us, eu: inRegion('eu-west-1'), keyId: KeyMetadata!.KeyId!, metadata: KeyMetadata! };
}

describe('multi-Region keys', () => {
  it('creates a primary key with an mrk- id, replicates it, and each region decrypts the other’s ciphertexts', async () => {
    const { us, eu, keyId, metadata } = await primaryKey();
    expect(keyId).toMatch(/^mrk-[0-9a-f]{32}$/);
    expect(metadata.Arn).toBe(arnIn('us-east-1', keyId));
    expect(metadata.MultiRegion).toBe(true);
    expect(metadata.MultiRegionConfiguration).toEqual({ MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: arnIn('us-east-1', keyId), Region: 'us-east-1' }, ReplicaKeys: [] });
    const fromUs = (await us.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('made in Virginia'), EncryptionContext: { app: 'x' } }))).CiphertextBlob!;
    // The ciphertext names the multi-Region key (format 0x02), not a region.
    expect(fromUs[0]).toBe(0x02);
    expect(Buffer.from(fromUs.subarray(1, 17)).toString('hex')).toBe(keyId.slice(4));

    const replicated = await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1', Description: 'replica', Tags: [{ TagKey: 'site', TagValue: 'dublin' }] }));
    const replica = replicated.ReplicaKeyMetadata!;
    expect(replica.KeyId).toBe(keyId);
    expect(replica.Arn).toBe(arnIn('eu-west-1', keyId));
    expect(replica.KeyState).toBe('Enabled');
    expect(replica.Description).toBe('replica');
    expect([replica.KeySpec, replica.KeyUsage, replica.Origin]).toEqual([metadata.KeySpec, metadata.KeyUsage, metadata.Origin]);
    expect(replica.CurrentKeyMaterialId).toBe(metadata.CurrentKeyMaterialId);
    expect(replica.MultiRegionConfiguration).toEqual({
      MultiRegionKeyType: 'REPLICA',
      PrimaryKey: { Arn: arnIn('us-east-1', keyId), Region: 'us-east-1' },
      ReplicaKeys: [{ Arn: arnIn('eu-west-1', keyId), Region: 'eu-west-1' }],
    });
    expect(replicated.ReplicaTags).toEqual([{ TagKey: 'site', TagValue: 'dublin' }]);
    // AWS gives a replica the default key policy, not its primary's.
    expect(JSON.parse(replicated.ReplicaPolicy!).Statement[0].Principal.AWS).toBe(`arn:aws:iam::${ACCOUNT}:root`);

    // No new key material: the replica is the primary's token object.
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(true);

    // Each region decrypts the other's ciphertexts, without a KeyId or naming its own key.
    expect(text((await eu.send(new DecryptCommand({ CiphertextBlob: fromUs, EncryptionContext: { app: 'x' } }))).Plaintext)).toBe('made in Virginia');
    const opened = await eu.send(new DecryptCommand({ CiphertextBlob: fromUs, KeyId: arnIn('eu-west-1', keyId), EncryptionContext: { app: 'x' } }));
    expect(opened.KeyId).toBe(arnIn('eu-west-1', keyId));
    expect(opened.KeyMaterialId).toBe(metadata.CurrentKeyMaterialId);
    const fromEu = (await eu.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('made in Ireland') }))).CiphertextBlob!;
    expect(text((await us.send(new DecryptCommand({ CiphertextBlob: fromEu, KeyId: keyId }))).Plaintext)).toBe('made in Ireland');
    const moved = await eu.send(new ReEncryptCommand({ CiphertextBlob: fromUs, SourceEncryptionContext: { app: 'x' }, DestinationKeyId: keyId }));
    expect(moved.SourceKeyId).toBe(arnIn('eu-west-1', keyId));
    expect(text((await us.send(new DecryptCommand({ CiphertextBlob: moved.CiphertextBlob }))).Plaintext)).toBe('made in Virginia');
    // A region with no key of it does not: the key is not there.
    await expectAwsError(inRegion('ap-southeast-2').send(new DecryptCommand({ CiphertextBlob: fromUs, EncryptionContext: { app: 'x' } })), 'InvalidCiphertextException');

    // The primary now names its replica; each region lists its own key under the one KeyId.
    const primaryNow = (await us.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(primaryNow.MultiRegionConfiguration!.ReplicaKeys).toEqual([{ Arn: arnIn('eu-west-1', keyId), Region: 'eu-west-1' }]);
    const euKeys = (await eu.send(new ListKeysCommand({ Limit: 1000 }))).Keys!;
    expect(euKeys).toContainEqual({ KeyId: keyId, KeyArn: arnIn('eu-west-1', keyId) });

    const events = await auditEvents(kms.service.audit.dir);
    const replicate = events.find((e) => e.eventName === 'ReplicateKey' && e.errorCode === undefined);
    expect(replicate?.awsRegion).toBe('us-east-1');
    expect((replicate?.resources as Array<{ ARN: string }>).map((r) => r.ARN).sort()).toEqual([arnIn('eu-west-1', keyId), arnIn('us-east-1', keyId)]);
    // The replica's creation is recorded in its own region too, as AWS does.
    const created = events.find((e) => e.eventName === 'CreateKey' && (e.serviceEventDetails as Record<string, unknown> | undefined)?.keyId === keyId);
    expect(created).toMatchObject({ eventType: 'AwsServiceEvent', awsRegion: 'eu-west-1', resources: [{ ARN: arnIn('eu-west-1', keyId) }] });
    expect(created?.serviceEventDetails).toEqual({ keyId, multiRegionKeyType: 'REPLICA', primaryKeyArn: arnIn('us-east-1', keyId) });
  });

  it('keeps each region’s policy, tags, aliases and state its own', async () => {
    const { us, eu, keyId } = await primaryKey();
    await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' }));
    await eu.send(new CreateAliasCommand({ AliasName: 'alias/mrk-only-eu', TargetKeyId: keyId }));
    await expectAwsError(us.send(new DescribeKeyCommand({ KeyId: 'alias/mrk-only-eu' })), 'NotFoundException');
    expect((await eu.send(new DescribeKeyCommand({ KeyId: 'alias/mrk-only-eu' }))).KeyMetadata!.Arn).toBe(arnIn('eu-west-1', keyId));

    await eu.send(new DisableKeyCommand({ KeyId: keyId }));
    await expectAwsError(eu.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })), 'DisabledException');
    await us.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
    await eu.send(new EnableKeyCommand({ KeyId: keyId }));

    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }, { Sid: 'eu only', Effect: 'Deny', Principal: '*', Action: 'kms:Sign', Resource: '*' }],
    });
    await eu.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: policy }));
    expect((await eu.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy).toContain('eu only');
    expect((await us.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy).not.toContain('eu only');
    expect((await us.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags).toEqual([]);
  });

  it('refuses what AWS refuses', async () => {
    const { us, eu, keyId } = await primaryKey();
    await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' }));
    await expectAwsError(us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' })), 'AlreadyExistsException');
    // Only a primary key is replicated.
    await expectAwsError(eu.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'ap-southeast-2' })), 'UnsupportedOperationException');
    const single = (await us.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await expectAwsError(us.send(new ReplicateKeyCommand({ KeyId: single, ReplicaRegion: 'eu-west-1' })), 'UnsupportedOperationException');
    await expectAwsError(us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'us-east-1' })), 'ValidationException');
    const unserved = await expectAwsError(us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'sa-east-1' })), 'UnsupportedOperationException');
    expect(unserved.message).toContain('us-east-1, eu-west-1, ap-southeast-2');
    // A disabled primary answers DisabledException, and nothing is made.
    await us.send(new DisableKeyCommand({ KeyId: keyId }));
    await expectAwsError(us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'ap-southeast-2' })), 'DisabledException');
    await expectAwsError(inRegion('ap-southeast-2').send(new DescribeKeyCommand({ KeyId: keyId })), 'NotFoundException');
  });

  it('rotates in the primary’s region, every region at once', async () => {
    const { us, eu, keyId } = await primaryKey();
    await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' }));
    const before = (await eu.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('version 1') }))).CiphertextBlob!;
    await expectAwsError(eu.send(new RotateKeyOnDemandCommand({ KeyId: keyId })), 'UnsupportedOperationException');
    await expectAwsError(eu.send(new EnableKeyRotationCommand({ KeyId: keyId })), 'UnsupportedOperationException');

    await us.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    await us.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
    const [usNow, euNow] = await Promise.all([us, eu].map(async (c) => (await c.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!));
    expect(euNow!.CurrentKeyMaterialId).toBe(usNow!.CurrentKeyMaterialId);
    expect(euNow!.CurrentKeyMaterialId!.endsWith('2')).toBe(true);
    // The replica shows its primary's rotation, and lists the rotation its primary made.
    const status = await eu.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
    expect([status.KeyRotationEnabled, status.RotationPeriodInDays]).toEqual([true, 90]);
    expect((await eu.send(new ListKeyRotationsCommand({ KeyId: keyId }))).Rotations!.map((r) => r.RotationType)).toEqual(['ON_DEMAND']);

    // The new material is used in both regions; the old still opens in both.
    const after = (await eu.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('version 2') }))).CiphertextBlob!;
    expect(Buffer.from(after).readUInt32BE(17)).toBe(2);
    expect(text((await us.send(new DecryptCommand({ CiphertextBlob: after }))).Plaintext)).toBe('version 2');
    expect(text((await us.send(new DecryptCommand({ CiphertextBlob: before }))).Plaintext)).toBe('version 1');
    expect(text((await eu.send(new DecryptCommand({ CiphertextBlob: before }))).Plaintext)).toBe('version 1');

    // The automatic rotation, when due, runs once, for every region.
    clock.advance(91 * DAY_MS);
    await kms.service.runScheduledJobs();
    const rotated = (await eu.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId!;
    expect(rotated.endsWith('3')).toBe(true);
    expect((await us.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId).toBe(rotated);
  });

  it('moves the primary to another region (UpdatePrimaryRegion)', async () => {
    const { us, eu, keyId } = await primaryKey();
    await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' }));
    await us.send(new EnableKeyRotationCommand({ KeyId: keyId }));
    await expectAwsError(eu.send(new UpdatePrimaryRegionCommand({ KeyId: keyId, PrimaryRegion: 'us-east-1' })), 'UnsupportedOperationException');
    await expectAwsError(us.send(new UpdatePrimaryRegionCommand({ KeyId: keyId, PrimaryRegion: 'ap-southeast-2' })), 'NotFoundException');
    await eu.send(new DisableKeyCommand({ KeyId: keyId }));
    await expectAwsError(us.send(new UpdatePrimaryRegionCommand({ KeyId: keyId, PrimaryRegion: 'eu-west-1' })), 'DisabledException');
    await eu.send(new EnableKeyCommand({ KeyId: keyId }));

    await us.send(new UpdatePrimaryRegionCommand({ KeyId: keyId, PrimaryRegion: 'eu-west-1' }));
    const usNow = (await us.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    const euNow = (await eu.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(usNow.MultiRegionConfiguration).toEqual({
      MultiRegionKeyType: 'REPLICA',
      PrimaryKey: { Arn: arnIn('eu-west-1', keyId), Region: 'eu-west-1' },
      ReplicaKeys: [{ Arn: arnIn('us-east-1', keyId), Region: 'us-east-1' }],
    });
    expect(euNow.MultiRegionConfiguration!.MultiRegionKeyType).toBe('PRIMARY');
    // The new primary replicates and rotates; the old one no longer does; the automatic schedule came along.
    await eu.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'ap-southeast-2' }));
    await expectAwsError(us.send(new RotateKeyOnDemandCommand({ KeyId: keyId })), 'UnsupportedOperationException');
    expect((await us.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled).toBe(true);
    await eu.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const ap = (await inRegion('ap-southeast-2').send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(ap.CurrentKeyMaterialId).toBe((await us.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId);
    expect(ap.MultiRegionConfiguration!.ReplicaKeys!.map((r) => r.Region)).toEqual(['ap-southeast-2', 'us-east-1']);

    // The old primary, now a replica, is deleted like one: the material stays for the others.
    await us.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    clock.advance(7 * DAY_MS + 60_000);
    await kms.service.runScheduledJobs();
    await expectAwsError(us.send(new DescribeKeyCommand({ KeyId: keyId })), 'NotFoundException');
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(true);
    expect((await eu.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.MultiRegionConfiguration!.ReplicaKeys!.map((r) => r.Region)).toEqual(['ap-southeast-2']);
  });

  it('deletes a primary only after its replicas (PendingReplicaDeletion), and its material only then', async () => {
    const { us, eu, keyId } = await primaryKey();
    await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' }));
    const blob = (await us.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('kept') }))).CiphertextBlob!;

    const scheduled = await us.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    expect(scheduled.KeyState).toBe('PendingReplicaDeletion');
    expect(scheduled.DeletionDate).toBeUndefined();
    const waiting = (await us.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect([waiting.KeyState, waiting.PendingDeletionWindowInDays, waiting.DeletionDate]).toEqual(['PendingReplicaDeletion', 7, undefined]);
    await expectAwsError(us.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })), 'KMSInvalidStateException');
    await expectAwsError(us.send(new ScheduleKeyDeletionCommand({ KeyId: keyId })), 'KMSInvalidStateException');
    // The replica is untouched, and no waiting period passes for the primary meanwhile.
    expect(text((await eu.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext)).toBe('kept');
    clock.advance(30 * DAY_MS);
    await kms.service.runScheduledJobs();
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(true);

    await eu.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    clock.advance(7 * DAY_MS + 60_000);
    await kms.service.runScheduledJobs();
    // The replica is gone, the material stays for the primary, whose own waiting period starts now.
    await expectAwsError(eu.send(new DescribeKeyCommand({ KeyId: keyId })), 'NotFoundException');
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(true);
    const pending = (await us.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(pending.KeyState).toBe('PendingDeletion');
    expect(Math.abs(pending.DeletionDate!.getTime() - (clock.now().getTime() + 7 * DAY_MS))).toBeLessThan(1000);
    expect(pending.MultiRegionConfiguration!.ReplicaKeys).toEqual([]);

    clock.advance(7 * DAY_MS + 60_000);
    await kms.service.runScheduledJobs();
    await expectAwsError(us.send(new DescribeKeyCommand({ KeyId: keyId })), 'NotFoundException');
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(false);
  });

  it('cancels a primary’s deletion while it waits for its replicas, and replicates again into a region whose replica was deleted', async () => {
    const { us, eu, keyId } = await primaryKey();
    await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' }));
    await us.send(new ScheduleKeyDeletionCommand({ KeyId: keyId }));
    await us.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    expect((await us.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('Disabled');
    await us.send(new EnableKeyCommand({ KeyId: keyId }));

    await eu.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    // Pending deletion is still a replica in that region.
    await expectAwsError(us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' })), 'AlreadyExistsException');
    clock.advance(7 * DAY_MS + 60_000);
    await kms.service.runScheduledJobs();
    await expectAwsError(eu.send(new DescribeKeyCommand({ KeyId: keyId })), 'NotFoundException');
    const again = (await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1', Description: 'second' }))).ReplicaKeyMetadata!;
    expect([again.KeyState, again.Description]).toEqual(['Enabled', 'second']);
    const blob = (await us.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('again') }))).CiphertextBlob!;
    expect(text((await eu.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext)).toBe('again');
    expect((await eu.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags).toEqual([]);
  });

  it('with imported material: a deleted replica takes from the token the material only it still had', async () => {
    const us = inRegion('us-east-1');
    const eu = inRegion('eu-west-1');
    const keyId = (await us.send(new CreateKeyCommand({ MultiRegion: true, Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    const material = randomBytes(32);
    await importInto(us, keyId, material);
    const blob = (await us.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('kept') }))).CiphertextBlob!;
    await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' }));
    await importInto(eu, keyId, material);
    await us.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(true);

    await eu.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    clock.advance(7 * DAY_MS + 60_000);
    await kms.service.runScheduledJobs();
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(false);
    expect((await us.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('PendingImport');

    // The same material comes back into the primary, and a new replica takes it too.
    await importInto(us, keyId, material);
    expect(text((await us.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext)).toBe('kept');
    // An import token the deleted replica left (its expiry job behind): retired when its region's key is made again.
    const left = { tokenId: '00000000-0000-4000-8000-00000000abcd', keyId: `${keyId}@eu-west-1`, wrappingAlgorithm: 'RSAES_OAEP_SHA_1', wrappingKeySpec: 'RSA_2048', createdAt: clock.now(), expiresAt: new Date(clock.now().getTime() + DAY_MS) } as const;
    await kms.service.store.saveImportToken(left);
    expect(await kms.service.store.listImportTokensOfKey(`${keyId}@eu-west-1`)).toHaveLength(1);
    expect((await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' }))).ReplicaKeyMetadata!.KeyState).toBe('PendingImport');
    expect(await kms.service.store.listImportTokensOfKey(`${keyId}@eu-west-1`)).toHaveLength(0);
    await importInto(eu, keyId, material);
    expect(text((await eu.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext)).toBe('kept');
  });

  it('fills kms:MultiRegion, kms:MultiRegionKeyType, kms:ReplicaRegion and kms:PrimaryRegion', async () => {
    const us = inRegion('us-east-1');
    const eu = inRegion('eu-west-1');
    const policyDenying = (action: string, condition: Record<string, Record<string, string>>) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
          { Sid: 'deny', Effect: 'Deny', Principal: '*', Action: action, Resource: '*', Condition: condition },
        ],
      });
    const keyId = (await us.send(new CreateKeyCommand({ MultiRegion: true, Policy: policyDenying('kms:ReplicateKey', { StringEquals: { 'kms:ReplicaRegion': 'ap-southeast-2' } }) }))).KeyMetadata!.KeyId!;
    await expectAwsError(us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'ap-southeast-2' })), 'AccessDeniedException');
    // The replica's own policy: its key type is REPLICA there.
    const replicaPolicy = policyDenying('kms:Encrypt', { StringEquals: { 'kms:MultiRegionKeyType': 'REPLICA' } });
    await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1', Policy: replicaPolicy }));
    await expectAwsError(eu.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })), 'AccessDeniedException');
    await us.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: policyDenying('kms:UpdatePrimaryRegion', { StringEquals: { 'kms:PrimaryRegion': 'eu-west-1' } }) }));
    await expectAwsError(us.send(new UpdatePrimaryRegionCommand({ KeyId: keyId, PrimaryRegion: 'eu-west-1' })), 'AccessDeniedException');
    // A condition on kms:MultiRegion tells single-Region keys from multi-Region ones.
    const single = (await us.send(new CreateKeyCommand({ Policy: policyDenying('kms:Encrypt', { Bool: { 'kms:MultiRegion': 'false' } }) }))).KeyMetadata!.KeyId!;
    await expectAwsError(us.send(new EncryptCommand({ KeyId: single, Plaintext: Buffer.from('x') })), 'AccessDeniedException');
    await us.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
  });

  it('with imported material: each region imports the same material, and keeps or deletes it on its own', async () => {
    const us = inRegion('us-east-1');
    const eu = inRegion('eu-west-1');
    const keyId = (await us.send(new CreateKeyCommand({ MultiRegion: true, Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    // An imported primary is replicated once it has its material (PendingImport answers KMSInvalidStateException).
    await expectAwsError(us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' })), 'KMSInvalidStateException');
    const material = randomBytes(32);
    await importInto(us, keyId, material);
    const blob = (await us.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('imported') }))).CiphertextBlob!;

    const replica = (await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' }))).ReplicaKeyMetadata!;
    expect([replica.KeyState, replica.Origin, replica.ExpirationModel]).toEqual(['PendingImport', 'EXTERNAL', undefined]);
    await expectAwsError(eu.send(new DecryptCommand({ CiphertextBlob: blob })), 'KMSInvalidStateException');
    await expectAwsError(importInto(eu, keyId, randomBytes(32)), 'IncorrectKeyMaterialException');
    const imported = await importInto(eu, keyId, material);
    expect(imported.KeyMaterialId).toBe((await us.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId);
    expect(text((await eu.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext)).toBe('imported');

    // Deleted in one region, the material stays in the other's use; deleted in both, it leaves the token.
    await us.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect((await us.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('PendingImport');
    expect(text((await eu.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext)).toBe('imported');
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(true);
    await eu.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(false);
    // Only the same material comes back, in either region.
    await expectAwsError(importInto(eu, keyId, randomBytes(32)), 'IncorrectKeyMaterialException');
    await importInto(eu, keyId, material);
    expect(text((await eu.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext)).toBe('imported');
    expect((await us.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('PendingImport');
    await importInto(us, keyId, material);
    expect(text((await us.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext)).toBe('imported');
    // Rotation with new imported material is not built for multi-Region keys.
    await expectAwsError(us.send(new RotateKeyOnDemandCommand({ KeyId: keyId })), 'UnsupportedOperationException');
  });

  it('authorizes ReplicateKey on the primary, and the replica’s creation and tags in its region by the caller’s identity policies', async () => {
    const { us, keyId } = await primaryKey();
    const admin = testAdmin(kms.endpoint);
    const user = `arn:aws:iam::${ACCOUNT}:user/replicator`;
    await admin('CreatePrincipal', { Arn: user });
    const { AccessKey } = (await admin('CreateAccessKey', { PrincipalArn: user })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
    const allow = (statements: object[]) => admin('PutPrincipalPolicy', { PrincipalArn: user, PolicyName: 'replicate', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statements }) });
    const asUser = new KMSClient({ ...kmsClientConfig(kms.endpoint, AccessKey.AccessKeyId, AccessKey.SecretAccessKey), region: 'us-east-1' });
    try {
      const replicate = (Tags?: Array<{ TagKey: string; TagValue: string }>) => asUser.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1', Tags }));
      const replicateOnly = { Effect: 'Allow', Action: 'kms:ReplicateKey', Resource: arnIn('us-east-1', keyId) };
      const createInEu = { Effect: 'Allow', Action: 'kms:CreateKey', Resource: '*', Condition: { StringEquals: { 'aws:RequestedRegion': 'eu-west-1' } } };
      await allow([replicateOnly]);
      await expectAwsError(replicate(), 'AccessDeniedException');
      await allow([replicateOnly, { ...createInEu, Condition: { StringEquals: { 'aws:RequestedRegion': 'us-east-1' } } }]);
      await expectAwsError(replicate(), 'AccessDeniedException');
      await allow([replicateOnly, createInEu]);
      await expectAwsError(replicate([{ TagKey: 'team', TagValue: 'x' }]), 'AccessDeniedException');
      // Nothing was made by the refusals; the allowed call makes the replica.
      await expectAwsError(inRegion('eu-west-1').send(new DescribeKeyCommand({ KeyId: keyId })), 'NotFoundException');
      await allow([replicateOnly, createInEu, { Effect: 'Allow', Action: 'kms:TagResource', Resource: '*' }]);
      expect((await replicate([{ TagKey: 'team', TagValue: 'x' }])).ReplicaKeyMetadata!.Arn).toBe(arnIn('eu-west-1', keyId));
      // UpdatePrimaryRegion is authorized on both keys.
      await allow([{ Effect: 'Allow', Action: 'kms:UpdatePrimaryRegion', Resource: arnIn('us-east-1', keyId) }]);
      await expectAwsError(asUser.send(new UpdatePrimaryRegionCommand({ KeyId: keyId, PrimaryRegion: 'eu-west-1' })), 'AccessDeniedException');
      await allow([{ Effect: 'Allow', Action: 'kms:UpdatePrimaryRegion', Resource: [arnIn('us-east-1', keyId), arnIn('eu-west-1', keyId)] }]);
      await asUser.send(new UpdatePrimaryRegionCommand({ KeyId: keyId, PrimaryRegion: 'eu-west-1' }));
      expect((await us.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.MultiRegionConfiguration!.MultiRegionKeyType).toBe('REPLICA');
    } finally {
      asUser.destroy();
    }
  });

  it('signs in one region and verifies in another with an asymmetric multi-Region key', async () => {
    const { us, eu, keyId } = await primaryKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    await us.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' }));
    const message = Buffer.from('signed in Virginia');
    const { Signature } = await us.send(new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }));
    expect((await eu.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature, SigningAlgorithm: 'ECDSA_SHA_256' }))).SignatureValid).toBe(true);
    const usPublic = (await us.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!;
    const euPublic = (await eu.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!;
    expect(Buffer.from(euPublic)).toEqual(Buffer.from(usPublic));
    const spki = createPublicKey({ key: Buffer.from(euPublic), format: 'der', type: 'spki' });
    expect(createVerify('SHA256').update(message).verify(spki, Buffer.from(Signature!))).toBe(true);
  });
});
