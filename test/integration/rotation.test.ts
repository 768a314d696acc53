import {
  DecryptCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GetKeyRotationStatusCommand,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseBlob } from '../../src/domain/ciphertext-blob.js';
import { DAY_MS, LEASE_EXPIRED_MS, TestClock } from '../support/clock.js';
import { expectAwsError } from '../support/errors.js';
import { createKey } from '../support/keys.js';
import { startTestService, useTestService } from '../support/service.js';

let client: KMSClient;
const clock = new TestClock();

const kms = useTestService({ clock, config: { schedulerIntervalMs: 0 } });
beforeAll(async () => {
  client = kms.client;
});

async function newKey(): Promise<string> {
  return (await createKey(client)).KeyId!;
}

async function encrypt(keyId: string, text: string): Promise<Buffer> {
  return Buffer.from((await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text), EncryptionContext: { t: text } }))).CiphertextBlob!);
}

async function decrypt(blob: Buffer, text: string): Promise<string> {
  const out = await client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { t: text } }));
  return Buffer.from(out.Plaintext!).toString();
}

async function allRotations(keyId: string, limit: number) {
  const rotations = [];
  let marker: string | undefined;
  do {
    const page = await client.send(new ListKeyRotationsCommand({ KeyId: keyId, Limit: limit, Marker: marker }));
    rotations.push(...page.Rotations!);
    expect(page.Truncated).toBe(page.NextMarker !== undefined);
    marker = page.NextMarker;
  } while (marker);
  return rotations;
}

describe('rotation on demand', () => {
  it('keeps every earlier ciphertext decryptable, encrypts under the newest version, and lists each rotation once', async () => {
    const keyId = await newKey();
    const blobs = [await encrypt(keyId, 'v1')];
    for (let i = 2; i <= 4; i++) {
      const out = await client.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
      expect(out.KeyId).toBe(`arn:aws:kms:us-east-1:111122223333:key/${keyId}`);
      blobs.push(await encrypt(keyId, `v${i}`));
    }
    expect(blobs.map((b) => parseBlob(b).keyVersion)).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < blobs.length; i++) expect(await decrypt(blobs[i]!, `v${i + 1}`)).toBe(`v${i + 1}`);
    for (let v = 1; v <= 4; v++) expect(await kms.service.token.hasKey({ keyId, version: v })).toBe(true);

    const rotations = await allRotations(keyId, 2);
    expect(rotations).toHaveLength(3);
    expect(new Set(rotations.map((r) => r.KeyMaterialId)).size).toBe(3);
    for (const r of rotations) {
      expect(r.KeyId).toBe(keyId);
      expect(r.RotationType).toBe('ON_DEMAND');
      expect(r.RotationDate).toBeInstanceOf(Date);
      expect(r.KeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('refuses disabled and pending-deletion keys', async () => {
    const disabled = await newKey();
    await client.send(new DisableKeyCommand({ KeyId: disabled }));
    await expectAwsError(client.send(new RotateKeyOnDemandCommand({ KeyId: disabled })), 'DisabledException');
    await expectAwsError(client.send(new EnableKeyRotationCommand({ KeyId: disabled })), 'DisabledException');
    const doomed = await newKey();
    await client.send(new ScheduleKeyDeletionCommand({ KeyId: doomed, PendingWindowInDays: 7 }));
    await expectAwsError(client.send(new RotateKeyOnDemandCommand({ KeyId: doomed })), 'KMSInvalidStateException');
    await expectAwsError(client.send(new RotateKeyOnDemandCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })), 'NotFoundException');
  });
});

describe('automatic rotation', () => {
  it('reports its status as AWS does and validates the period', async () => {
    const keyId = await newKey();
    let status = await client.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
    expect(status.KeyRotationEnabled).toBe(false);
    expect(status.NextRotationDate).toBeUndefined();
    await expectAwsError(client.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 89 })), 'ValidationException');
    await expectAwsError(client.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 2561 })), 'ValidationException');
    await client.send(new EnableKeyRotationCommand({ KeyId: keyId }));
    status = await client.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
    expect(status.KeyRotationEnabled).toBe(true);
    expect(status.RotationPeriodInDays).toBe(365);
    expect(status.KeyId).toMatch(new RegExp(`:key/${keyId}$`));
    expect(Math.abs(status.NextRotationDate!.getTime() - (clock.now().getTime() + 365 * DAY_MS))).toBeLessThan(60_000);
    await client.send(new DisableKeyRotationCommand({ KeyId: keyId }));
    status = await client.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
    expect(status.KeyRotationEnabled).toBe(false);
    expect(status.NextRotationDate).toBeUndefined();
  });

  it('rotates a due key once per period when the scheduler runs', async () => {
    const keyId = await newKey();
    const before = await encrypt(keyId, 'before');
    await client.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
    await kms.service.runScheduledJobs();
    expect(await allRotations(keyId, 100)).toHaveLength(0);

    clock.advance(90 * DAY_MS + 60_000);
    await kms.service.runScheduledJobs();
    await kms.service.runScheduledJobs();
    const rotations = await allRotations(keyId, 100);
    expect(rotations).toHaveLength(1);
    expect(rotations[0]!.RotationType).toBe('AUTOMATIC');
    const status = await client.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
    expect(Math.abs(status.NextRotationDate!.getTime() - (clock.now().getTime() + 90 * DAY_MS))).toBeLessThan(60_000);
    expect(parseBlob(await encrypt(keyId, 'after')).keyVersion).toBe(2);
    expect(await decrypt(before, 'before')).toBe('before');
  });

  it('rotates each due key exactly once when two instances sharing the database and token run at the same moment', async () => {
    const keyIds: string[] = [];
    for (let i = 0; i < 12; i++) keyIds.push(await newKey());
    for (const keyId of keyIds) await client.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
    const second = await startTestService({ dataDir: kms.dataDir, clock, config: { schedulerIntervalMs: 0 } });
    try {
      clock.advance(91 * DAY_MS);
      await Promise.all([kms.service.runScheduledJobs(), second.service.runScheduledJobs(), kms.service.runScheduledJobs(), second.service.runScheduledJobs()]);
      for (const keyId of keyIds) {
        const rotations = await allRotations(keyId, 100);
        expect(rotations.filter((r) => r.RotationType === 'AUTOMATIC')).toHaveLength(1);
        expect(await kms.service.token.hasKey({ keyId, version: 2 })).toBe(true);
        expect(await kms.service.token.hasKey({ keyId, version: 3 })).toBe(false);
        // Either instance decrypts what the other encrypts under the new version.
        const blob = Buffer.from((await second.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))).CiphertextBlob!);
        expect(parseBlob(blob).keyVersion).toBe(2);
        expect(Buffer.from((await client.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('x');
      }
    } finally {
      await second.stop();
    }
  });
});

describe('interrupted rotation', () => {
  it('removes a half-made version once its lease has expired, then rotates normally', async () => {
    const keyId = await newKey();
    const before = await encrypt(keyId, 'kept');
    // Replay a rotation up to a crash: lease taken, version row written, token object created, never committed.
    expect(await kms.service.store.acquireRotationLease(keyId, clock.now(), 5 * 60_000, 'ON_DEMAND')).toBe(true);
    expect(await kms.service.store.insertProvisioningVersion(keyId, clock.now(), 'ON_DEMAND')).toBe(2);
    await kms.service.token.createSymmetricKey({ keyId, version: 2 });

    // While the lease runs, nobody else rotates it and nothing is cleaned up.
    await expectAwsError(client.send(new RotateKeyOnDemandCommand({ KeyId: keyId })), 'ConflictException');
    await kms.service.runScheduledJobs();
    expect(await kms.service.token.hasKey({ keyId, version: 2 })).toBe(true);
    expect(parseBlob(await encrypt(keyId, 'still v1')).keyVersion).toBe(1);

    clock.advance(LEASE_EXPIRED_MS);
    await kms.service.runScheduledJobs();
    expect(await kms.service.token.hasKey({ keyId, version: 2 })).toBe(false);
    expect(await allRotations(keyId, 100)).toHaveLength(0);

    // The abandoned number is never handed out again: a late attempt could not name the new version's object.
    await client.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    expect(parseBlob(await encrypt(keyId, 'v3')).keyVersion).toBe(3);
    expect(await decrypt(before, 'kept')).toBe('kept');
  });
});
