import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { auditEvents } from '../support/audit.js';
import { expectAwsError } from '../support/errors.js';
import { testAdmin, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, useTestService } from '../support/service.js';

const kms = useTestService();
const sts = (credentials = { accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY }) =>
  new STSClient({ endpoint: kms.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });

const cli = (() => {
  try {
    return execFileSync('aws', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim() || 'aws';
  } catch {
    return undefined;
  }
})();

describe('sts:GetCallerIdentity on the KMS endpoint', () => {
  it('tells an SDK caller who it is: the account root, or a user by its unique id', async () => {
    const root = sts();
    expect(await root.send(new GetCallerIdentityCommand({}))).toMatchObject({ Account: '111122223333', Arn: 'arn:aws:iam::111122223333:root', UserId: '111122223333' });
    root.destroy();

    const admin = testAdmin(kms.endpoint);
    const arn = 'arn:aws:iam::111122223333:user/whoami';
    const created = (await admin('CreatePrincipal', { Arn: arn })) as { Principal: { UniqueId: string } };
    const { AccessKey } = (await admin('CreateAccessKey', { PrincipalArn: arn })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
    const user = sts({ accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey });
    const identity = await user.send(new GetCallerIdentityCommand({}));
    expect(identity).toMatchObject({ Account: '111122223333', Arn: arn, UserId: created.Principal.UniqueId });
    expect(identity.UserId).toMatch(/^AIDA/);
    user.destroy();

    // Unknown credentials and bad signatures get STS's own error codes.
    const stranger = sts({ accessKeyId: 'AKIAUNKNOWN000000001', secretAccessKey: 'x'.repeat(40) });
    await expectAwsError(stranger.send(new GetCallerIdentityCommand({})), 'InvalidClientTokenId');
    stranger.destroy();
    const wrongSecret = sts({ accessKeyId: AccessKey.AccessKeyId, secretAccessKey: 'y'.repeat(40) });
    await expectAwsError(wrongSecret.send(new GetCallerIdentityCommand({})), 'SignatureDoesNotMatch');
    wrongSecret.destroy();

    // Each recorded in the audit trail, as STS's events.
    const events = (await auditEvents(kms.service.audit.dir)).filter((e) => e.eventSource === 'sts.amazonaws.com');
    expect(events.map((e) => e.errorCode ?? 'ok')).toEqual(['ok', 'ok', 'InvalidClientTokenId', 'SignatureDoesNotMatch']);
  });

  it.skipIf(cli === undefined)(`answers the AWS CLI's aws sts get-caller-identity${cli === undefined ? ' (skipped: no aws command on PATH)' : ''}`, async () => {
    const { stdout } = await promisify(execFile)('aws', ['sts', 'get-caller-identity', '--endpoint-url', kms.endpoint, '--output', 'json'], {
      env: {
        PATH: process.env.PATH,
        HOME: kms.dataDir,
        AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_MAX_ATTEMPTS: '1',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    });
    expect(JSON.parse(stdout)).toEqual({ UserId: '111122223333', Account: '111122223333', Arn: 'arn:aws:iam::111122223333:root' });
  });
});
