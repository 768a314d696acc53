import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runServiceToEnd } from '../support/process.js';

const folders: string[] = [];
afterAll(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

async function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-startup-'));
  folders.push(dataDir);
  return runServiceToEnd(dataDir, env);
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
