import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from '../support/service.js';

const root = path.resolve(import.meta.dirname, '../..');
const folders: string[] = [];
afterAll(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

/** Runs the service to its end; its exit code and what it wrote on stderr. */
async function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-startup-'));
  folders.push(dataDir);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, KMS_DATA_DIR: dataDir, KMS_ADMIN_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID, KMS_ADMIN_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

describe('a port already in use', () => {
  it('stops the start with one line that names the port and the setting, with one process or several', async () => {
    const taken: Server = await new Promise((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => resolve(s));
    });
    const port = (taken.address() as { port: number }).port;
    try {
      for (const workers of ['1', '2']) {
        const { code, stderr } = await run({ KMS_PORT: String(port), KMS_WORKERS: workers });
        expect(code).toBe(1);
        const failure = stderr.split('\n').filter((l) => l.startsWith('hsm-kms failed to start'));
        expect(failure.length).toBeGreaterThan(0);
        expect(failure[0]).toBe(`hsm-kms failed to start: port ${port} on 127.0.0.1 is already in use (KMS_PORT): stop what listens there, or set KMS_PORT to another port`);
        // No stack, no "Cannot read properties of null".
        expect(stderr).not.toMatch(/\n\s+at |Cannot read properties/);
      }
    } finally {
      taken.close();
    }
  });
});
