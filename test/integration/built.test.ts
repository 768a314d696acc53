import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyPairCommand, SignCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kmsClient, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from '../support/service.js';

const root = path.resolve(import.meta.dirname, '../..');
let out: string;
const folders: string[] = [];

beforeAll(async () => {
  // Inside the repository, so that the compiled code finds node_modules as dist/ does.
  await mkdir(path.join(root, '.build-test'), { recursive: true });
  out = await mkdtemp(path.join(root, '.build-test', 'dist-'));
  folders.push(out);
  await promisify(execFile)('bash', ['scripts/build.sh', out], { cwd: root });
}, 120_000);

afterAll(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

/** The compiled service, as node runs it without tsx (the image's command), until it listens. */
async function startBuilt(workers: string): Promise<{ url: string; stop(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-built-'));
  folders.push(dataDir);
  const child = spawn(process.execPath, [path.join(out, 'src/main.js')], {
    cwd: dataDir,
    env: { PATH: process.env.PATH, KMS_DATA_DIR: dataDir, KMS_PORT: '0', KMS_WORKERS: workers, KMS_ADMIN_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID, KMS_ADMIN_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    // What it said last, to tell why when it ends before serving.
    const last: string[] = [];
    const lines = createInterface({ input: child.stderr! });
    lines.once('close', () => reject(new Error(`the built service exited with ${child.exitCode}: ${last.join(' | ')}`)));
    child.once('exit', () => lines.close());
    lines.on('line', (line) => {
      last.push(line.slice(0, 400));
      if (last.length > 3) last.shift();
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'hsm-kms listening' && entry.url) resolve(entry.url);
    });
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('the build (scripts/build.sh)', () => {
  it('runs compiled, without tsx, with its worker threads', async () => {
    const service = await startBuilt('1');
    const client = kmsClient(service.url);
    try {
      const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const { CiphertextBlob } = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('compiled') }));
      expect(Buffer.from((await client.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!).toString()).toBe('compiled');
      // The key-generation thread, the private-key thread and the data-key-pair thread: their .cjs files came along.
      const rsa = (await client.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
      await client.send(new SignCommand({ KeyId: rsa, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }));
      await client.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' }));
    } finally {
      client.destroy();
      await service.stop();
    }
  });
});
