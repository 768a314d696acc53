import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { testAdmin, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, useTestService } from '../support/service.js';

const root = path.resolve(import.meta.dirname, '../..');
const kms = useTestService();

/** The admin CLI as a user runs it; its exit code, stdout and stderr. */
async function admin(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/admin.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, KMS_DATA_DIR: kms.dataDir, AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY, ...env },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

const principals = async () => ((await testAdmin(kms.endpoint)('ListPrincipals', {})) as { Principals: Array<{ Arn: string }> }).Principals.map((p) => p.Arn);

describe('the admin CLI', () => {
  it('refuses unknown commands and options (exit 2) and does nothing then', async () => {
    const before = await principals();
    const mistyped = await admin(['create-user', 'typo', '--fromat', 'ini', '--endpoint', kms.endpoint]);
    expect(mistyped).toMatchObject({ code: 2, stdout: '' });
    expect(mistyped.stderr).toContain('unknown option --fromat');
    const badFormat = await admin(['create-user', 'typo', '--format', 'yaml', '--endpoint', kms.endpoint]);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain('--format is json, env or ini, not yaml');
    const unknown = await admin(['create-usr', 'typo', '--endpoint', kms.endpoint]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command create-usr');
    expect(await principals()).toEqual(before);
  });

  it('writes a new access key as an AWS credentials-file profile that works, and says which credential it signed with', async () => {
    const arn = 'arn:aws:iam::111122223333:user/cli-ini';
    await admin(['create-user', 'cli-ini', '--endpoint', kms.endpoint]);
    const created = await admin(['create-access-key', arn, '--format', 'ini', '--profile', 'local-dev', '--endpoint', kms.endpoint]);
    expect(created.code).toBe(0);
    expect(created.stderr).toContain(`signing with ${TEST_ACCESS_KEY_ID} (AWS_ACCESS_KEY_ID from the environment)`);
    const match = /^\[local-dev\]\naws_access_key_id = (\S+)\naws_secret_access_key = (\S+)\n$/.exec(created.stdout);
    expect(match).not.toBeNull();
    const sts = new STSClient({ endpoint: kms.endpoint, region: 'us-east-1', credentials: { accessKeyId: match![1]!, secretAccessKey: match![2]! }, maxAttempts: 1 });
    expect((await sts.send(new GetCallerIdentityCommand({}))).Arn).toBe(arn);
    sts.destroy();
  });

  it('names the URL and the cause when the service is not there (exit 1)', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const failed = await admin(['list', '--endpoint', `http://127.0.0.1:${port}`]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`cannot reach the service at http://127.0.0.1:${port}: ECONNREFUSED`);
  });
});
