import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { auditEvents } from '../support/audit.js';
import { TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, useTestService } from '../support/service.js';

const run = promisify(execFile);
const kms = useTestService();

/** boto3 (AWS's SDK for Python), installed by scripts/setup.sh where it can be. */
const boto3 = (() => {
  try {
    return execFileSync('python3', ['-c', 'import boto3; print(boto3.__version__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
})();

/**
 * A boto3 program of the usual shape: envelope encryption with GenerateDataKey,
 * a round trip with an encryption context, the same key by alias, and the error
 * codes an application branches on. It prints one JSON line of what it saw.
 */
const PROGRAM = `
import base64, json, os, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

kms = boto3.client('kms', endpoint_url=sys.argv[1], region_name='us-east-1',
                   config=Config(retries={'max_attempts': 1, 'mode': 'standard'}))
out = {}
key = kms.create_key(Description='from boto3', Tags=[{'TagKey': 'team', 'TagValue': 'python'}])['KeyMetadata']
out['keyState'] = key['KeyState']
kms.create_alias(AliasName='alias/boto3-app', TargetKeyId=key['KeyId'])
data_key = kms.generate_data_key(KeyId='alias/boto3-app', KeySpec='AES_256', EncryptionContext={'tenant': 'a'})
out['dataKeyBytes'] = len(data_key['Plaintext'])
again = kms.decrypt(CiphertextBlob=data_key['CiphertextBlob'], EncryptionContext={'tenant': 'a'})
out['dataKeyRoundTrip'] = again['Plaintext'] == data_key['Plaintext'] and again['KeyId'] == key['Arn']
sealed = kms.encrypt(KeyId=key['Arn'], Plaintext=b'hello from boto3')['CiphertextBlob']
out['plaintext'] = kms.decrypt(CiphertextBlob=sealed)['Plaintext'].decode()
def error_code(call):
    try:
        call()
    except ClientError as e:
        return [e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]
    return None
out['wrongContext'] = error_code(lambda: kms.decrypt(CiphertextBlob=data_key['CiphertextBlob'], EncryptionContext={'tenant': 'b'}))
out['unknownAlias'] = error_code(lambda: kms.describe_key(KeyId='alias/none-such'))
out['badInput'] = error_code(lambda: kms.generate_data_key(KeyId=key['KeyId'], NumberOfBytes=2048))
out['tags'] = kms.list_resource_tags(KeyId=key['KeyId'])['Tags']
print(json.dumps(out))
`;

describe.skipIf(boto3 === undefined)(`boto3${boto3 === undefined ? ' (skipped: python3 cannot import boto3; scripts/setup.sh installs it with apt-get install python3-boto3)' : ` ${boto3}`}`, () => {
  it('runs an envelope-encryption program unchanged against the endpoint, with AWS error codes', async () => {
    const { stdout } = await run('python3', ['-c', PROGRAM, kms.endpoint], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      },
    });
    expect(JSON.parse(stdout)).toEqual({
      keyState: 'Enabled',
      dataKeyBytes: 32,
      dataKeyRoundTrip: true,
      plaintext: 'hello from boto3',
      wrongContext: ['InvalidCiphertextException', 400],
      unknownAlias: ['NotFoundException', 400],
      badInput: ['ValidationException', 400],
      tags: [{ TagKey: 'team', TagValue: 'python' }],
    });
    const agents = (await auditEvents(kms.service.audit.dir)).filter((e) => /Boto3\//.test(String(e.userAgent))).map((e) => e.eventName);
    expect(agents).toContain('GenerateDataKey');
  });
});
