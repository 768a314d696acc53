import { readdir, readFile, stat, writeFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnService } from '../support/process.js';
import { kmsClient, startTestService } from '../support/service.js';

const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

async function fresh(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** Every file and folder under a folder, with its permission bits. */
async function modes(dir: string): Promise<Array<[string, number]>> {
  const out: Array<[string, number]> = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    out.push([path.relative(dir, full), (await stat(full)).mode & 0o777]);
  }
  return out;
}

describe('the embedded default', () => {
  it('creates the data folder and everything in it owner-only: the token, the database, the trail', async () => {
    const parent = await fresh('hsm-kms-modes-');
    const dataDir = path.join(parent, 'data');
    const service = spawnService(dataDir);
    try {
      const client = kmsClient(await service.url);
      const { KeyMetadata } = await client.send(new CreateKeyCommand({}));
      await client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('x') }));
      client.destroy();
    } finally {
      await service.stop();
    }
    expect((await stat(dataDir)).mode & 0o077).toBe(0);
    const all = await modes(dataDir);
    for (const name of ['kms.sqlite', path.join('softhsm', 'user.pin'), path.join('softhsm', 'softhsm2.conf'), 'audit']) expect(all.map(([n]) => n)).toContain(name);
    expect(all.filter(([, mode]) => (mode & 0o077) !== 0)).toEqual([]);
  });

  it('keeps the user PIN outside the data folder when given one, and says what the embedded token is for', async () => {
    const secrets = await fresh('hsm-kms-pin-');
    const pinFile = path.join(secrets, 'user-pin');
    await writeFile(pinFile, 'a-user-pin-kept-apart-0123456789', { mode: 0o600 });
    const logLines: string[] = [];
    const kms = await startTestService({ config: { pkcs11: { pinFile }, logLevel: 'warn' }, logLines });
    try {
      await kms.client.send(new CreateKeyCommand({}));
      expect(await readdir(path.join(kms.dataDir, 'softhsm'))).not.toContain('user.pin');
      const warning = logLines.map((l) => JSON.parse(l) as { msg: string }).find((l) => l.msg.startsWith('the embedded SoftHSM token is for development and tests'));
      expect(warning?.msg).toContain('the user PIN elsewhere');
    } finally {
      await kms.stop();
    }
    // The token took that PIN: a restart with another one cannot log in.
    await writeFile(pinFile, 'not-the-pin-the-token-was-made-with');
    await expect(startTestService({ dataDir: kms.dataDir, config: { pkcs11: { pinFile } } })).rejects.toThrow(/CKR_PIN_INCORRECT/);
    expect((await readFile(pinFile, 'utf8')).length).toBeGreaterThan(0);
  });
});
