import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyPairCommand, SignCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnService } from '../support/process.js';
import { kmsClient } from '../support/service.js';

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

describe('the build (scripts/build.sh)', () => {
  it('runs compiled, without tsx, with its worker threads', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-built-'));
    folders.push(dataDir);
    // As the image runs it: node and the compiled entry, no tsx.
    const service = spawnService(dataDir, undefined, {}, [path.join(out, 'src/main.js')]);
    const client = kmsClient(await service.url);
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
