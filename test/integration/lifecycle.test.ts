import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseBlob } from '../../src/domain/ciphertext-blob.js';
import { LEASE_EXPIRED_MS, MAX_DATE, TestClock } from '../support/clock.js';
import { expectAwsError } from '../support/errors.js';
import { keyFixture } from '../support/keys.js';
import { startTestService, type TestService } from '../support/service.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(options: Parameters<typeof startTestService>[0] = {}): Promise<TestService> {
  const kms = await startTestService(options);
  cleanups.push(() => kms.stop());
  return kms;
}

describe('restart', () => {
  it('reuses token, PINs, database and keys across restarts', async () => {
    const first = await start();
    const { KeyMetadata } = await first.client.send(new CreateKeyCommand({ Description: 'durable' }));
    const blob = (await first.client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('survives') }))).CiphertextBlob!;
    const pin = await readFile(path.join(first.dataDir, 'softhsm', 'user.pin'), 'utf8');
    expect((await stat(path.join(first.dataDir, 'softhsm', 'user.pin'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(first.dataDir, 'softhsm', 'so.pin'))).mode & 0o777).toBe(0o600);
    await first.stop();

    const second = await start({ dataDir: first.dataDir });
    cleanups.push(() => second.cleanup());
    expect(await readFile(path.join(first.dataDir, 'softhsm', 'user.pin'), 'utf8')).toBe(pin);
    const dec = await second.client.send(new DecryptCommand({ CiphertextBlob: blob }));
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('survives');
    expect((await second.client.send(new DescribeKeyCommand({ KeyId: KeyMetadata!.KeyId }))).KeyMetadata!.Description).toBe('durable');
    // Each start takes a new IV fixed field, so no (key, IV) pair can repeat across restarts.
    const again = (await second.client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('x') }))).CiphertextBlob!;
    expect(parseBlob(Buffer.from(again)).iv.readUInt32BE(0)).not.toBe(parseBlob(Buffer.from(blob)).iv.readUInt32BE(0));
  });

  it('generates an administrator credential into the data folder when none is configured, and reuses it', async () => {
    const kms = await startTestService({ config: { admin: undefined } });
    cleanups.push(() => kms.cleanup());
    const file = path.join(kms.dataDir, 'credentials');
    expect(kms.service.admin.credentialsFile).toBe(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, 'utf8');
    expect(text).toContain('[hsm-kms]');
    expect(text).toContain(`aws_access_key_id = ${kms.service.admin.accessKeyId}`);
    await kms.stop();
    const again = await startTestService({ dataDir: kms.dataDir, config: { admin: undefined } });
    cleanups.push(() => again.stop());
    expect(again.service.admin.accessKeyId).toBe(kms.service.admin.accessKeyId);
    expect(again.service.admin.secretAccessKey).toBe(kms.service.admin.secretAccessKey);
  });
});

describe('crash between token object and database commit', () => {
  it('leaves nothing visible and removes the orphaned token object at the next start', async () => {
    const kms = await start();
    cleanups.push(() => kms.cleanup());
    // Replay what CreateKey does up to the crash point: provisioning row written, token object created, never activated.
    const keyId = '11111111-2222-4333-8444-555555555555';
    await kms.service.store.insertProvisioningKey({
      key: keyFixture(keyId, { description: 'half-made' }),
      tags: [],
    });
    await kms.service.token.createSymmetricKey({ keyId, version: 1 });
    expect(await kms.service.token.hasKey({ keyId, version: 1 })).toBe(true);

    // Before any restart the half-made key is already invisible.
    await expectAwsError(kms.client.send(new DescribeKeyCommand({ KeyId: keyId })), 'NotFoundException');
    const listed = await kms.client.send(new ListKeysCommand({}));
    expect(listed.Keys!.map((k) => k.KeyId)).not.toContain(keyId);

    await kms.stop();
    // A restart right away leaves it alone: it could be another instance's creation in progress.
    const soon = await start({ dataDir: kms.dataDir });
    expect(await soon.service.token.hasKey({ keyId, version: 1 })).toBe(true);
    await soon.stop();
    // Once it is older than any creation takes, the start-up removes it.
    const clock = new TestClock();
    clock.advance(LEASE_EXPIRED_MS);
    const restarted = await start({ dataDir: kms.dataDir, clock });
    expect(await restarted.service.token.hasKey({ keyId, version: 1 })).toBe(false);
    expect(await restarted.service.store.listProvisioningKeys(MAX_DATE)).toEqual([]);
    await expectAwsError(restarted.client.send(new DescribeKeyCommand({ KeyId: keyId })), 'NotFoundException');
  });
});

describe('AES-GCM invocation limit', () => {
  it('takes a new IV fixed field when the invocation counter reaches its (lowered) limit, and IVs never repeat', async () => {
    const kms = await start({ ivInvocationLimit: 4n });
    cleanups.push(() => kms.cleanup());
    const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({}));
    const blobs: Buffer[] = [];
    for (let i = 0; i < 13; i++) {
      const out = await kms.client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from(`m${i}`) }));
      blobs.push(Buffer.from(out.CiphertextBlob!));
    }
    const ivs = blobs.map((b) => parseBlob(b).iv);
    expect(new Set(ivs.map((iv) => iv.toString('hex'))).size).toBe(ivs.length);
    const fixedFields = new Set(ivs.map((iv) => iv.readUInt32BE(0)));
    // The start-up took one IV (counter 0) of the first fixed field: 3 + 4 + 4 + 2 calls span 4 fixed fields.
    expect(fixedFields.size).toBe(4);
    for (const iv of ivs) expect(iv.readBigUInt64BE(4)).toBeLessThan(4n);
    for (let i = 0; i < blobs.length; i++) {
      const dec = await kms.client.send(new DecryptCommand({ CiphertextBlob: blobs[i] }));
      expect(Buffer.from(dec.Plaintext!).toString()).toBe(`m${i}`);
    }
  });
});
