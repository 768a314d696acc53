import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  RetireGrantCommand,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { auditEvents } from '../support/audit.js';
import { expectAwsError } from '../support/errors.js';
import { useRegionClients, useTestService } from '../support/service.js';

/** One deployment answering for several regions, each region's keys, aliases and ciphertexts apart, as in AWS. */
const kms = useTestService({ config: { otherRegions: ['eu-west-1'] } });
const inRegion = useRegionClients(kms);

describe('several regions (KMS_REGIONS)', () => {
  it('keeps each region’s keys, aliases and ciphertexts apart, and records each call in its region', async () => {
    const [us, eu] = [inRegion('us-east-1'), inRegion('eu-west-1')];
    const euKey = (await eu.send(new CreateKeyCommand({ Description: 'in Ireland' }))).KeyMetadata!;
    expect(euKey.Arn).toBe(`arn:aws:kms:eu-west-1:111122223333:key/${euKey.KeyId}`);
    const usKey = (await us.send(new CreateKeyCommand({ Description: 'in Virginia' }))).KeyMetadata!;

    // A key is found in its own region only, by id or by ARN.
    await expectAwsError(us.send(new DescribeKeyCommand({ KeyId: euKey.KeyId })), 'NotFoundException');
    await expectAwsError(us.send(new DescribeKeyCommand({ KeyId: euKey.Arn })), 'NotFoundException');
    expect((await eu.send(new DescribeKeyCommand({ KeyId: euKey.KeyId }))).KeyMetadata!.Description).toBe('in Ireland');
    const listed = async (client: KMSClient) => (await client.send(new ListKeysCommand({}))).Keys!.map((k) => k.KeyId);
    expect(await listed(eu)).toContain(euKey.KeyId);
    expect(await listed(eu)).not.toContain(usKey.KeyId);
    expect(await listed(us)).not.toContain(euKey.KeyId);

    // One alias name, one key in each region.
    await eu.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: euKey.KeyId }));
    await us.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: usKey.KeyId }));
    expect((await eu.send(new DescribeKeyCommand({ KeyId: 'alias/app' }))).KeyMetadata!.KeyId).toBe(euKey.KeyId);
    expect((await us.send(new DescribeKeyCommand({ KeyId: 'alias/app' }))).KeyMetadata!.KeyId).toBe(usKey.KeyId);
    const euAliases = (await eu.send(new ListAliasesCommand({}))).Aliases!;
    expect(euAliases.map((a) => [a.AliasName, a.AliasArn])).toEqual([['alias/app', 'arn:aws:kms:eu-west-1:111122223333:alias/app']]);

    // A ciphertext opens only in its key's region.
    const { CiphertextBlob } = await eu.send(new EncryptCommand({ KeyId: 'alias/app', Plaintext: Buffer.from('Dublin') }));
    expect(Buffer.from((await eu.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!).toString()).toBe('Dublin');
    await expectAwsError(us.send(new DecryptCommand({ CiphertextBlob })), 'InvalidCiphertextException');

    // A grant token names a grant of its own region only.
    const { GrantToken } = await eu.send(new CreateGrantCommand({ KeyId: euKey.KeyId, GranteePrincipal: 'arn:aws:iam::111122223333:root', Operations: ['Encrypt'] }));
    await expectAwsError(us.send(new RetireGrantCommand({ GrantToken })), 'NotFoundException');
    await eu.send(new RetireGrantCommand({ GrantToken }));

    const events = await auditEvents(kms.service.audit.dir);
    const created = events.filter((e) => e.eventName === 'CreateKey').map((e) => e.awsRegion);
    expect(created).toEqual(['eu-west-1', 'us-east-1']);
  });

  it('tells a request signed for a region it does not serve which regions it serves', async () => {
    const e = await expectAwsError(inRegion('ap-south-1').send(new ListKeysCommand({})), 'InvalidSignatureException');
    expect(e.message).toContain('This endpoint serves us-east-1, eu-west-1');
  });
});
