import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import {
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ReplicateKeyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  UpdatePrimaryRegionCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import { DAY_MS, LEASE_EXPIRED_MS, MAX_DATE, TestClock } from '../support/clock.js';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnService, type SpawnedService } from '../support/process.js';
import { kmsClient, kmsClientConfig, startTestService, type TestServiceOptions } from '../support/service.js';

const dataDirs: string[] = [];

afterAll(async () => {
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});

async function freshDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-kill-'));
  dataDirs.push(dir);
  return dir;
}

/**
 * Runs `workers` loops of `step` (each at most `rounds` times) against the service,
 * SIGKILLs it once `enough` steps have succeeded, and waits until every loop has
 * seen it gone.
 */
async function killMidFlight(spawned: SpawnedService, client: KMSClient, workers: number, enough: number, step: (worker: number, round: number) => Promise<void>, rounds = Number.POSITIVE_INFINITY): Promise<void> {
  let succeeded = 0;
  let stop = false;
  const loops = Array.from({ length: workers }, async (_, worker) => {
    for (let round = 0; round < rounds && !stop; round++) {
      try {
        await step(worker, round);
        succeeded++;
      } catch {
        return; // the process is gone
      }
    }
  });
  while (succeeded < enough) await new Promise((r) => setTimeout(r, 5));
  await spawned.stop('SIGKILL');
  stop = true;
  await Promise.all(loops);
  client.destroy();
}

/** The service again on the same data, once whatever the killed instance held (creations, rotation leases: 5 minutes) has run out. */
async function restartAfterLeases(dataDir: string, config: TestServiceOptions['config'] = {}) {
  const clock = new TestClock();
  clock.advance(LEASE_EXPIRED_MS);
  return { clock, kms: await startTestService({ dataDir, clock, config }) };
}

describe('SIGKILL while keys are being created', () => {
  it('restarts into a state where every visible key works and nothing half-made remains', async () => {
    const dataDir = await freshDataDir();
    const spawned = spawnService(dataDir);
    const client = kmsClient(await spawned.url);
    const created: string[] = [];
    // Let creations overlap for a while, then kill mid-flight.
    await killMidFlight(spawned, client, 8, 20, async () => {
      const out = await client.send(new CreateKeyCommand({ Description: 'under fire' }));
      created.push(out.KeyMetadata!.KeyId!);
    });

    // Restart once a creation cut short is older than any creation takes (5 minutes).
    const { kms } = await restartAfterLeases(dataDir);
    try {
      expect(await kms.service.store.listProvisioningKeys(MAX_DATE)).toEqual([]);
      const visible: string[] = [];
      let marker: string | undefined;
      do {
        const page = await kms.client.send(new ListKeysCommand({ Marker: marker }));
        visible.push(...page.Keys!.map((k) => k.KeyId!));
        marker = page.NextMarker;
      } while (marker);
      // Every key whose CreateKey answered is there; every visible key has its token object.
      for (const id of created) expect(visible).toContain(id);
      for (const id of visible) {
        expect(await kms.service.token.hasKey({ keyId: id, version: 1 })).toBe(true);
        const blob = (await kms.client.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from(id) }))).CiphertextBlob;
        const dec = await kms.client.send(new DecryptCommand({ CiphertextBlob: blob }));
        expect(Buffer.from(dec.Plaintext!).toString()).toBe(id);
      }
    } finally {
      await kms.stop();
    }
  });
});

describe('SIGKILL while keys are being rotated', () => {
  it('restarts into a state where every committed version works and half-made versions are gone', async () => {
    const dataDir = await freshDataDir();
    const spawned = spawnService(dataDir);
    const client = kmsClient(await spawned.url);
    const keys: Array<{ keyId: string; blob: Uint8Array }> = [];
    for (let i = 0; i < 8; i++) {
      const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const blob = (await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(keyId) }))).CiphertextBlob!;
      keys.push({ keyId, blob });
    }
    await killMidFlight(spawned, client, keys.length, 30, (worker) => client.send(new RotateKeyOnDemandCommand({ KeyId: keys[worker]!.keyId })).then(() => undefined), 20);

    // Restart once the dead instance's rotation leases (5 minutes) have run out.
    const { kms } = await restartAfterLeases(dataDir, { schedulerIntervalMs: 0 });
    try {
      for (const { keyId, blob } of keys) {
        const listed = (await kms.client.send(new ListKeyRotationsCommand({ KeyId: keyId, Limit: 1000 }))).Rotations!;
        const current = listed.length + 1;
        for (let v = 1; v <= current; v++) expect(await kms.service.token.hasKey({ keyId, version: v })).toBe(true);
        expect(await kms.service.token.hasKey({ keyId, version: current + 1 })).toBe(false);
        expect(Buffer.from((await kms.client.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(keyId);
        const fresh = (await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('after') }))).CiphertextBlob!;
        expect(Buffer.from(fresh).readUInt32BE(17)).toBe(current);
        await kms.client.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
      }
    } finally {
      await kms.stop();
    }
  });
});

/** Wraps new 256-bit material for an import into the key, as a customer does. */
async function importNew(client: KMSClient, keyId: string, importType?: 'NEW_KEY_MATERIAL'): Promise<string> {
  const params = await client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
  const wrapping = createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' });
  const wrapped = publicEncrypt({ key: wrapping, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, randomBytes(32));
  const out = await client.send(
    new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: importType }),
  );
  return out.KeyMaterialId!;
}

describe('SIGKILL while imported key material is imported, rotated to and deleted', () => {
  it('restarts with every token object named by a version the store knows, and key deletion destroys them all', async () => {
    const dataDir = await freshDataDir();
    const spawned = spawnService(dataDir);
    const client = kmsClient(await spawned.url);
    const keys: Array<{ keyId: string; blob: Uint8Array }> = [];
    for (let i = 0; i < 4; i++) {
      const keyId = (await client.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
      await importNew(client, keyId);
      keys.push({ keyId, blob: (await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(keyId) }))).CiphertextBlob! });
    }
    await killMidFlight(
      spawned,
      client,
      keys.length,
      8,
      async (worker, round) => {
        const { keyId } = keys[worker]!;
        const pending = await importNew(client, keyId, 'NEW_KEY_MATERIAL');
        // Now and then the pending material is deleted instead of rotated to.
        if ((round + worker) % 3 === 2) await client.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId, KeyMaterialId: pending }));
        else await client.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
      },
      20,
    );

    const { clock, kms } = await restartAfterLeases(dataDir, { schedulerIntervalMs: 0 });
    try {
      for (const { keyId, blob } of keys) {
        // No object in the token that no version of the key names (a crash between a token write and its row leaves none).
        const named = await kms.service.store.listKeyVersions(keyId);
        for (let v = 1; v <= 30; v++) if (await kms.service.token.hasKey({ keyId, version: v })) expect(named, `${keyId} version ${v}`).toContain(v);
        // The key still works with the materials it has; its first ciphertext decrypts.
        expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('Enabled');
        expect(Buffer.from((await kms.client.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(keyId);
        // Material waiting for a rotation when the key goes: it must go with it (it is no key version yet).
        if (!(await kms.client.send(new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }))).Rotations!.some((r) => r.KeyMaterialState === 'PENDING_ROTATION')) {
          await importNew(kms.client, keyId, 'NEW_KEY_MATERIAL');
        }
        await kms.client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
      }
      clock.advance(8 * DAY_MS);
      await kms.service.runScheduledJobs();
      for (const { keyId } of keys) {
        for (let v = 1; v <= 30; v++) expect(await kms.service.token.hasKey({ keyId, version: v }), `${keyId} version ${v}`).toBe(false);
      }
    } finally {
      await kms.stop();
    }
  });
});

describe('an object the token was writing when the process was killed', () => {
  it('is destroyed at start-up on the embedded token instead of stopping the start', async () => {
    // What a kill mid-write can leave in SoftHSM's folder, made by hand: the object file of a key being
    // created (a key of another token here, so that its id is new), cut short at several lengths.
    const donor = await startTestService({ dataDir: await freshDataDir() });
    await donor.client.send(new CreateKeyCommand({}));
    await donor.stop();
    const donorTokens = path.join(donor.dataDir, 'softhsm', 'tokens');
    const donorToken = path.join(donorTokens, (await readdir(donorTokens))[0]!);
    const objects = (await readdir(donorToken)).filter((n) => n.endsWith('.object') && n !== 'token.object');
    const sizes = await Promise.all(objects.map(async (n) => (await readFile(path.join(donorToken, n))).length));
    // The AES key's file is the largest (the audit key pair's halves and the IV mark are smaller).
    const whole = await readFile(path.join(donorToken, objects[sizes.indexOf(Math.max(...sizes))]!));

    const kms = await startTestService({ dataDir: await freshDataDir() });
    const keyId = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const dataDir = kms.dataDir;
    await kms.stop();
    // A sound token has none (its data object, the IV mark, is not a key and is left alone).
    const control = await startTestService({ dataDir });
    expect(control.service.token.unreadableObjects).toBe(0);
    await control.stop();
    const tokensDir = path.join(dataDir, 'softhsm', 'tokens');
    const tokenDir = path.join(tokensDir, (await readdir(tokensDir))[0]!);
    for (const cut of [8, 24, 40, 60, 100, 200, 300, 600, 800]) {
      const name = `00000000-0000-0000-0000-${String(cut).padStart(12, '0')}`;
      await writeFile(path.join(tokenDir, `${name}.object`), whole.subarray(0, cut));
      await writeFile(path.join(tokenDir, `${name}.lock`), '');
    }
    const again = await startTestService({ dataDir });
    try {
      // Those SoftHSM lists but cannot read (one of them makes it fail every search by id) are destroyed:
      // the embedded token is the service's alone. Searches work again: the start itself runs several.
      expect(again.service.token.unreadableObjects).toBeGreaterThan(0);
      const blob = (await again.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('still served') }))).CiphertextBlob;
      expect(Buffer.from((await again.client.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('still served');
    } finally {
      await again.stop();
    }
  });
});

describe('SIGKILL while multi-Region keys rotate and change their primary region', () => {
  it('restarts with every region of each key in step: one primary, the same versions, each object there', async () => {
    const dataDir = await freshDataDir();
    const spawned = spawnService(dataDir, undefined, { KMS_REGIONS: 'eu-west-1' });
    const url = await spawned.url;
    const clients = { 'us-east-1': kmsClient(url), 'eu-west-1': new KMSClient({ ...kmsClientConfig(url), region: 'eu-west-1' }) };
    const keys: Array<{ keyId: string; blob: Uint8Array; primary: 'us-east-1' | 'eu-west-1' }> = [];
    for (let i = 0; i < 6; i++) {
      const keyId = (await clients['us-east-1'].send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!.KeyId!;
      await clients['us-east-1'].send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' }));
      const blob = (await clients['us-east-1'].send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(keyId) }))).CiphertextBlob!;
      keys.push({ keyId, blob, primary: 'us-east-1' });
    }
    // Each key in turn rotated on demand and moved to the other region, until the kill.
    await killMidFlight(
      spawned,
      clients['us-east-1'],
      keys.length,
      30,
      async (worker, round) => {
        const key = keys[worker]!;
        if (round % 2 === 0) {
          await clients[key.primary].send(new RotateKeyOnDemandCommand({ KeyId: key.keyId }));
        } else {
          const to = key.primary === 'us-east-1' ? 'eu-west-1' : 'us-east-1';
          await clients[key.primary].send(new UpdatePrimaryRegionCommand({ KeyId: key.keyId, PrimaryRegion: to }));
          key.primary = to;
        }
      },
      20,
    );
    clients['eu-west-1'].destroy();

    const { kms } = await restartAfterLeases(dataDir, { otherRegions: ['eu-west-1'], schedulerIntervalMs: 0 });
    const eu = new KMSClient({ ...kmsClientConfig(kms.endpoint), region: 'eu-west-1' });
    try {
      for (const { keyId, blob } of keys) {
        const regions = await kms.service.store.listMultiRegionKeys(keyId);
        expect(regions.map((k) => k.region)).toEqual(['eu-west-1', 'us-east-1']);
        // One primary, named alike by both; the same current version and rotations in both.
        expect(new Set(regions.map((k) => k.primaryRegion)).size).toBe(1);
        expect(regions[0]!.currentVersion).toBe(regions[1]!.currentVersion);
        const rotations = async (client: KMSClient) => (await client.send(new ListKeyRotationsCommand({ KeyId: keyId, Limit: 1000 }))).Rotations!.map((r) => r.KeyMaterialId);
        expect(await rotations(eu)).toEqual(await rotations(kms.client));
        // Every committed version has its one object; each region opens the other's ciphertexts.
        const current = regions[0]!.currentVersion;
        for (const v of await kms.service.store.listKeyVersions(regions[0]!.keyId)) expect(await kms.service.token.hasKey({ keyId, version: v })).toBe(v <= current);
        for (const client of [kms.client, eu]) expect(Buffer.from((await client.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(keyId);
        const fresh = (await eu.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('after') }))).CiphertextBlob!;
        expect(Buffer.from(fresh).readUInt32BE(17)).toBe(current);
        expect(Buffer.from((await kms.client.send(new DecryptCommand({ CiphertextBlob: fresh }))).Plaintext!).toString()).toBe('after');
        // The primary still rotates, for both regions.
        const primaryClient = regions[0]!.primaryRegion === 'eu-west-1' ? eu : kms.client;
        await primaryClient.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
        const after = await kms.service.store.listMultiRegionKeys(keyId);
        expect(after[0]!.currentVersion).toBe(after[1]!.currentVersion);
        expect(after[0]!.currentVersion).toBeGreaterThan(current);
      }
    } finally {
      eu.destroy();
      await kms.stop();
    }
  });
});
