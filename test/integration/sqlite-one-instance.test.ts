import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { runServiceToEnd, spawnService } from '../support/process.js';
import { kmsClient } from '../support/service.js';

const folders: string[] = [];
afterAll(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

describe('SQLite serves one instance', () => {
  it('refuses a second instance on the same database with a message that names PostgreSQL, and lets the next one in once the first is gone', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-one-instance-'));
    folders.push(dataDir);
    const first = spawnService(dataDir);
    const client = kmsClient(await first.url);
    await client.send(new CreateKeyCommand({}));
    const refused = await runServiceToEnd(dataDir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/another instance \(pid \d+ on .*\) uses this SQLite database[\s\S]*KMS_DATABASE=postgres/);
    // Still serving.
    await client.send(new CreateKeyCommand({}));
    client.destroy();
    // Killed without a word: its process is gone, so the next instance may take the database at once.
    await first.stop('SIGKILL');
    const next = spawnService(dataDir);
    try {
      const again = kmsClient(await next.url);
      await again.send(new CreateKeyCommand({}));
      again.destroy();
    } finally {
      await next.stop();
    }
  });
});
