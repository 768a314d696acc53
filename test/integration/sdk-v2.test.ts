import AWS from 'aws-sdk';
import { describe, expect, it } from 'vitest';
import { auditEvents } from '../support/audit.js';
import { TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, useTestService } from '../support/service.js';

const kms = useTestService();

/** The AWS SDK for JavaScript v2, still under much deployed code: it does not sign Content-Type. */
function v2Client(): AWS.KMS {
  return new AWS.KMS({
    endpoint: kms.endpoint,
    region: 'us-east-1',
    credentials: new AWS.Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY),
    maxRetries: 0,
  });
}

describe('the AWS SDK for JavaScript v2', () => {
  it('creates a key, encrypts and decrypts with an encryption context, and reads AWS error names', async () => {
    const client = v2Client();
    const { KeyMetadata } = await client.createKey({ Description: 'from SDK v2' }).promise();
    const { CiphertextBlob } = await client.encrypt({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('v2 round trip'), EncryptionContext: { sdk: 'v2' } }).promise();
    const { Plaintext, KeyId } = await client.decrypt({ CiphertextBlob: CiphertextBlob!, EncryptionContext: { sdk: 'v2' } }).promise();
    expect(Buffer.from(Plaintext as Uint8Array).toString()).toBe('v2 round trip');
    expect(KeyId).toBe(KeyMetadata!.Arn);
    const failure = await client.describeKey({ KeyId: 'alias/none-such' }).promise().then(() => undefined, (e: AWS.AWSError) => e);
    expect(failure?.code).toBe('NotFoundException');
    expect(failure?.statusCode).toBe(400);
    // Its calls are audited like any other, with its user agent.
    const events = await auditEvents(kms.service.audit.dir);
    expect(events.filter((e) => String(e.userAgent).startsWith('aws-sdk-nodejs/2.')).map((e) => e.eventName)).toEqual(['CreateKey', 'Encrypt', 'Decrypt', 'DescribeKey']);
  });
});
