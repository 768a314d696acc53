import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnService } from '../support/process.js';
import { kmsClient, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from '../support/service.js';

const root = path.resolve(import.meta.dirname, '../..');
const folders: string[] = [];
afterAll(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

/** Starts a second instance on the folder and waits for it to end; its exit code and log. */
function secondInstance(dataDir: string): Promise<{ code: number | null; log: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, KMS_DATA_DIR: dataDir, KMS_PORT: '0', KMS_WORKERS: '1', KMS_ADMIN_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID, KMS_ADMIN_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, log });
    }),
  );
}

describe('SQLite serves one instance', () => {
  it('refuses a second instance on the same database with a message that names PostgreSQL, and lets the next one in once the first is gone', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-one-instance-'));
    folders.push(dataDir);
    const first = spawnService(dataDir);
    const client = kmsClient(await first.url);
    await client.send(new CreateKeyCommand({}));
    const refused = await secondInstance(dataDir);
    expect(refused.code).toBe(1);
    expect(refused.log).toMatch(/another instance \(pid \d+ on .*\) uses this SQLite database[\s\S]*KMS_DATABASE=postgres/);
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
