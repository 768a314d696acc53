import { CreateKeyCommand, DescribeKeyCommand, EncryptCommand, KMSClient, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { auditEvents } from '../support/audit.js';
import { expectAwsError } from '../support/errors.js';
import { startTestService, testAdmin, type TestService } from '../support/service.js';

const started: TestService[] = [];
afterAll(async () => {
  for (const s of started) await s.cleanup();
});

const anyKey = (endpoint: string) => ({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });

describe('the conveniences of a local AWS endpoint (KMS_DEV_CONVENIENCES)', () => {
  it('accept any access key as the account root, and finish a pending deletion now', async () => {
    const kms = await startTestService({ config: { devConveniences: true } });
    started.push(kms);
    const local = new KMSClient(anyKey(kms.endpoint));
    const keyId = (await local.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await local.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('test/test') }));
    const sts = new STSClient(anyKey(kms.endpoint));
    expect(await sts.send(new GetCallerIdentityCommand({}))).toMatchObject({ Arn: 'arn:aws:iam::111122223333:root', Account: '111122223333' });
    local.destroy();
    sts.destroy();

    await kms.client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    await testAdmin(kms.endpoint)('DeleteKeyNow', { KeyId: keyId });
    await expectAwsError(kms.client.send(new DescribeKeyCommand({ KeyId: keyId })), 'NotFoundException');
    // Recorded as the operator's admin call, and by the same steps as at the end of a window: the destruction is a service event of its own.
    const events = await auditEvents(kms.service.audit.dir);
    expect(events.filter((e) => e.eventName === 'DeleteKeyNow')).toMatchObject([{ eventSource: 'admin.hsm-kms', requestParameters: { keyId }, readOnly: false }]);
    expect(events.filter((e) => e.eventName === 'DeleteKeyNow')[0]!.errorCode).toBeUndefined();
    expect(events.some((e) => e.eventName === 'DeleteKey' && e.eventType === 'AwsServiceEvent')).toBe(true);
    // Only a key pending deletion; and only the operator.
    const other = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await expect(testAdmin(kms.endpoint)('DeleteKeyNow', { KeyId: other })).rejects.toThrow(/KMSInvalidStateException/);
    await expect(testAdmin(kms.endpoint, { accessKeyId: 'anyone', secretAccessKey: 'anything' })('DeleteKeyNow', { KeyId: other })).rejects.toThrow(/AccessDeniedException/);
  });

  it('are off by default: an unknown access key is refused, and DeleteKeyNow is not served', async () => {
    const kms = await startTestService();
    started.push(kms);
    const local = new KMSClient(anyKey(kms.endpoint));
    await expectAwsError(local.send(new CreateKeyCommand({})), 'UnrecognizedClientException');
    local.destroy();
    await expect(testAdmin(kms.endpoint)('DeleteKeyNow', { KeyId: '1234abcd-12ab-34cd-56ef-1234567890ab' })).rejects.toThrow(/UnsupportedOperationException/);
  });

  it('are refused outside the development profile or on a non-loopback address', () => {
    expect(() => parseConfig({ dataDir: '/tmp/x', devConveniences: true, profile: 'production', pkcs11: { module: '/m.so', tokenLabel: 't', pin: '1234' } })).toThrow(
      /KMS_DEV_CONVENIENCES accepts any access key[\s\S]*only in the development profile on a loopback address/,
    );
    expect(() => parseConfig({ dataDir: '/tmp/x', devConveniences: true, host: '0.0.0.0', allowPlaintextHttp: true })).toThrow(/only in the development profile on a loopback address/);
    expect(() => parseConfig({ dataDir: '/tmp/x', devConveniences: true })).not.toThrow();
  });
});
