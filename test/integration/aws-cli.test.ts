import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents } from '../support/audit.js';
import { TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, useTestService } from '../support/service.js';

const run = promisify(execFile);
const kms = useTestService();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The AWS CLI (botocore signs its requests, as boto3 does), installed by scripts/setup.sh. */
function aws(...args: string[]) {
  return run('aws', ['kms', ...args, '--endpoint-url', kms.endpoint, '--output', 'json'], {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_MAX_ATTEMPTS: '1',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  });
}

const cli = (() => {
  try {
    return execFileSync('aws', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim() || 'aws';
  } catch {
    return undefined;
  }
})();

describe.skipIf(cli === undefined)(`the AWS CLI${cli === undefined ? ' (skipped: no aws command on PATH; scripts/setup.sh installs it with apt-get install awscli)' : ''}`, () => {
  it('creates a key, encrypts a file with an encryption context and decrypts it, and shows AWS error names', async () => {
    const created = JSON.parse((await aws('create-key', '--description', 'from the AWS CLI')).stdout) as { KeyMetadata: { KeyId: string; Arn: string } };
    const plain = path.join(dir, 'plain.txt');
    await writeFile(plain, 'hello from the CLI');
    const encrypted = JSON.parse((await aws('encrypt', '--key-id', created.KeyMetadata.KeyId, '--plaintext', `fileb://${plain}`, '--encryption-context', 'purpose=cli')).stdout) as { CiphertextBlob: string; KeyId: string };
    expect(encrypted.KeyId).toBe(created.KeyMetadata.Arn);
    const blob = path.join(dir, 'cipher.bin');
    await writeFile(blob, Buffer.from(encrypted.CiphertextBlob, 'base64'));
    const decrypted = JSON.parse((await aws('decrypt', '--ciphertext-blob', `fileb://${blob}`, '--encryption-context', 'purpose=cli')).stdout) as { Plaintext: string };
    expect(Buffer.from(decrypted.Plaintext, 'base64').toString()).toBe(await readFile(plain, 'utf8'));

    const failure = await aws('describe-key', '--key-id', 'alias/none-such').then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(failure?.code).not.toBe(0);
    expect(failure?.stderr).toContain('(NotFoundException)');
    const agents = (await auditEvents(kms.service.audit.dir)).filter((e) => String(e.userAgent).startsWith('aws-cli/')).map((e) => e.eventName);
    expect(agents).toEqual(['CreateKey', 'Encrypt', 'Decrypt', 'DescribeKey']);
  });
});
