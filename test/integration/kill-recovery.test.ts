import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { kmsClient, startTestService, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from '../support/service.js';

const root = path.resolve(import.meta.dirname, '../..');
let dataDir: string;

afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Runs the service as its own process, the way `npm start` does, and resolves with its URL. */
function spawnService(dir: string) {
  // node itself, not the tsx wrapper: SIGKILL must hit the process that holds the token.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      KMS_DATA_DIR: dir,
      KMS_PORT: '0',
      KMS_ADMIN_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID,
      KMS_ADMIN_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`service exited early with ${code}`)));
    const lines = createInterface({ input: child.stdout });
    child.once('exit', () => lines.close());
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'hsm-kms listening' && entry.url) resolve(entry.url);
    });
  });
  return { child, url };
}

describe('SIGKILL while keys are being created', () => {
  it('restarts into a state where every visible key works and nothing half-made remains', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-kill-'));
    const { child, url } = spawnService(dataDir);
    const client = kmsClient(await url);
    const created: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 8 }, async () => {
      while (!stop) {
        try {
          const out = await client.send(new CreateKeyCommand({ Description: 'under fire' }));
          created.push(out.KeyMetadata!.KeyId!);
        } catch {
          return; // the process is gone
        }
      }
    });
    // Let creations overlap for a while, then kill mid-flight.
    while (created.length < 20) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    client.destroy();
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    child.stdout.destroy();

    const kms = await startTestService({ dataDir });
    try {
      expect(await kms.service.store.listProvisioningKeys()).toEqual([]);
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
