import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateKeyCommand, EncryptCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/audit/trail-format.js';
import { verifyTrail } from '../../src/audit/verify.js';
import { auditEvents, readTrailFiles } from '../support/audit.js';
import { expectAwsError } from '../support/errors.js';
import { spawnService } from '../support/process.js';
import { kmsClient, startTestService } from '../support/service.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function freshDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

function verifyDir(files: Awaited<ReturnType<typeof readTrailFiles>>, publicKeyPem: string) {
  const key = createPublicKey(publicKeyPem);
  return verifyTrail(files, key, sha256Hex(key.export({ format: 'der', type: 'spki' })));
}

describe('SIGKILL under heavy traffic', () => {
  it('loses no event of an answered call, and the trail still verifies after the restart', async () => {
    const dataDir = await freshDir('hsm-kms-audit-kill-');
    const spawned = spawnService(dataDir);
    const client = kmsClient(await spawned.url);
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const answered: string[] = [];
    let stop = false;
    const workers = Array.from({ length: 16 }, async (_, w) => {
      for (let n = 0; !stop; n++) {
        try {
          // Mostly cryptography (written before the answer), some state changes (on disk before the answer).
          const out = n % 8 === w % 8 ? await client.send(new CreateKeyCommand({ Description: 'under fire' })) : await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(`n=${n}`) }));
          answered.push(out.$metadata.requestId!);
        } catch {
          return; // the process is gone
        }
      }
    });
    while (answered.length < 400) await new Promise((r) => setTimeout(r, 5));
    await spawned.stop('SIGKILL');
    stop = true;
    await Promise.all(workers);
    client.destroy();

    const kms = await startTestService({ dataDir });
    const publicKey = kms.service.audit.publicKey;
    await kms.stop();
    const files = await readTrailFiles(path.join(dataDir, 'audit'));
    const recorded = new Set((await auditEvents(path.join(dataDir, 'audit'))).map((e) => e.requestID));
    const missing = answered.filter((id) => !recorded.has(id));
    expect(missing).toEqual([]);
    const result = verifyDir(files, publicKey);
    // A half-written last line, if the kill left one, is acknowledged at restart and reported as a note, never as tampering.
    expect(result.findings).toEqual([]);
    expect(result.sealedThrough?.seq).toBe(result.lastSeq);
  });
});

describe('a half-written record at the end of the trail', () => {
  it('is reported as a cut-off tail, and once the service restarts, as a cut-off it acknowledged', async () => {
    const kms = await startTestService();
    dirs.push(kms.dataDir);
    const keyId = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('whole') }));
    await kms.stop();
    const dir = kms.service.audit.dir;
    // What a kill in the middle of a write leaves: the start of a record, with no newline.
    const [last] = (await readTrailFiles(dir)).slice(-1);
    await writeFile(path.join(dir, last!.name), '{"seq":99,"prev":"00', { flag: 'a' });
    const cut = verifyDir(await readTrailFiles(dir), kms.service.audit.publicKey);
    expect(cut.findings).toMatchObject([{ kind: 'cut-off', tampering: false, where: `${last!.name} byte ${last!.content.length}` }]);

    const again = await startTestService({ dataDir: kms.dataDir });
    await again.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('after the crash') }));
    await again.stop();
    const files = await readTrailFiles(dir);
    expect(files.map((f) => f.name)).toHaveLength(2); // the chain goes on in a new file; the cut one stays as it was
    const result = verifyDir(files, kms.service.audit.publicKey);
    expect(result.findings).toEqual([]);
    expect(result.notes.join('\n')).toContain(`${last!.name} byte ${last!.content.length}: 20 bytes of a half-written record, cut off by a crash and acknowledged`);
  });
});

/** A small tmpfs of our own: a real file system that really fills up (needs root, as CI has). */
function mountTmpfs(dir: string, size: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (e) {
    return `cannot mount a tmpfs to fill (${((e as { stderr?: Buffer }).stderr?.toString() ?? String(e)).trim()}); run the tests as root to include this one`;
  }
}

const mountPoint = path.join(os.tmpdir(), `hsm-kms-audit-full-${process.pid}`);
await mkdir(mountPoint, { recursive: true });
const cannotMount = mountTmpfs(mountPoint, '2m');
afterAll(() => {
  if (!cannotMount) execFileSync('umount', ['-l', mountPoint]);
});

describe.skipIf(cannotMount !== undefined)(`a disk that refuses the trail${cannotMount ? ` (skipped: ${cannotMount})` : ''}`, () => {
  it('refuses calls with KMSInternalException and changes nothing, stays up, and serves again once the disk has room', async () => {
    const kms = await startTestService({ config: { audit: { dir: path.join(mountPoint, 'audit') } } });
    dirs.push(kms.dataDir);
    const filler = path.join(mountPoint, 'filler');
    try {
      const keyId = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('before') }));

      // Disk full: fill every free byte. A few more events may still fit in the trail file's last page.
      await writeFile(filler, Buffer.alloc(4 * 1024 * 1024)).catch((e: NodeJS.ErrnoException) => expect(e.code).toBe('ENOSPC'));
      let discovered: Error | undefined;
      for (let i = 0; i < 50 && !discovered; i++) {
        discovered = await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('during') })).then(() => undefined, (e: Error) => e);
      }
      expect(discovered?.name).toBe('KMSInternalException');
      expect((discovered as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(500);
      // From now on calls are refused before they do anything.
      const keysBefore = (await kms.service.store.listKeys({ accountId: '111122223333', region: 'us-east-1' }, undefined, 100)).items.length;
      await expectAwsError(kms.client.send(new CreateKeyCommand({ Description: 'must not exist' })), 'KMSInternalException');
      await expectAwsError(kms.client.send(new ListKeysCommand({})), 'KMSInternalException');
      expect((await kms.service.store.listKeys({ accountId: '111122223333', region: 'us-east-1' }, undefined, 100)).items).toHaveLength(keysBefore);
      const health = await fetch(new URL('/healthz', kms.endpoint));
      expect(health.status).toBe(200);

      await unlink(filler);
      let served = false;
      for (const deadline = Date.now() + 10_000; !served && Date.now() < deadline; ) {
        served = await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('after') })).then(
          () => true,
          async () => {
            await new Promise((r) => setTimeout(r, 100));
            return false;
          },
        );
      }
      expect(served).toBe(true);
      await kms.client.send(new CreateKeyCommand({ Description: 'after the disk recovered' }));
    } finally {
      await unlink(filler).catch(() => undefined);
      await kms.stop();
    }
    const files = await readTrailFiles(path.join(mountPoint, 'audit'));
    const result = verifyDir(files, kms.service.audit.publicKey);
    expect(result.findings).toEqual([]);
    // The calls refused during the outage were recorded once the disk had room again, marked late.
    const events = await auditEvents(path.join(mountPoint, 'audit'));
    expect(events.filter((e) => e.errorCode === 'KMSInternalException').length).toBeGreaterThanOrEqual(3);
    expect(result.notes.join('\n')).toMatch(/written late/);
    // Every key the store holds was recorded as created.
    const created = new Set(events.filter((e) => e.eventName === 'CreateKey' && !e.errorCode).map((e) => (e.responseElements as { keyMetadata: { keyId: string } }).keyMetadata.keyId));
    const keys = (await startTestService({ dataDir: kms.dataDir, config: { audit: { dir: path.join(mountPoint, 'audit') } } }).then(async (again) => {
      const page = await again.service.store.listKeys({ accountId: '111122223333', region: 'us-east-1' }, undefined, 100);
      await again.stop();
      return page.items;
    }));
    for (const k of keys) expect(created.has(k.keyId), `key ${k.keyId} has its CreateKey event`).toBe(true);
  });
});
