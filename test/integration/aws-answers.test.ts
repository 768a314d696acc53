import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  DeleteImportedKeyMaterialCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateMacCommand,
  GetKeyRotationStatusCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ListGrantsCommand,
  ListKeyRotationsCommand,
  ReEncryptCommand,
  RetireGrantCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  VerifyCommand,
  VerifyMacCommand,
  type KeySpec,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { signJsonRequest } from '../../src/cli/admin-client.js';
import { MAX_ON_DEMAND_ROTATIONS } from '../../src/services/keys/key-rotation.js';
import { expectAwsError } from '../support/errors.js';
import { kmsClient, testAdmin, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, useTestService } from '../support/service.js';

/**
 * Where hsm-kms answered otherwise than AWS KMS (issue 15's list): each case
 * asserts AWS's error name or response members, through the AWS SDK.
 */
const kms = useTestService({ config: { schedulerIntervalMs: 0 } });
const ARN_PREFIX = 'arn:aws:kms:us-east-1:111122223333:key/';

async function newKey(input: ConstructorParameters<typeof CreateKeyCommand>[0] = {}): Promise<string> {
  return (await kms.client.send(new CreateKeyCommand(input))).KeyMetadata!.KeyId!;
}

/** The raw answer body, as the wire carries it. */
async function rawCall(operation: string, input: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = JSON.stringify(input);
  const { headers } = await signJsonRequest({ endpoint: kms.endpoint, region: 'us-east-1', accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY }, `TrentService.${operation}`, body);
  const { host: _host, ...sent } = headers;
  const res = await fetch(kms.endpoint, { method: 'POST', headers: sent, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("AWS KMS's own answers", () => {
  it('RetireGrant takes a key id (not only a key ARN) with a GrantId', async () => {
    const keyId = await newKey();
    await testAdmin(kms.endpoint)('CreatePrincipal', { Arn: 'arn:aws:iam::111122223333:user/retiree' });
    const { GrantId } = await kms.client.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: 'arn:aws:iam::111122223333:user/retiree', Operations: ['Encrypt'] }));
    await kms.client.send(new RetireGrantCommand({ KeyId: keyId, GrantId }));
    expect((await kms.client.send(new ListGrantsCommand({ KeyId: keyId }))).Grants).toEqual([]);
  });

  it('RotateKeyOnDemand answers the key ARN, leaves the automatic schedule alone, and stops at its quota', async () => {
    const keyId = await newKey();
    await kms.client.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
    const before = (await kms.client.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).NextRotationDate!;
    expect((await kms.client.send(new RotateKeyOnDemandCommand({ KeyId: keyId }))).KeyId).toBe(ARN_PREFIX + keyId);
    expect((await kms.client.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).NextRotationDate).toEqual(before);
    for (let i = 1; i < MAX_ON_DEMAND_ROTATIONS; i++) await kms.client.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    await expectAwsError(kms.client.send(new RotateKeyOnDemandCommand({ KeyId: keyId })), 'LimitExceededException');
  });

  it('names key material as AWS does: CurrentKeyMaterialId, and KeyMaterialId in Decrypt, ReEncrypt and ImportKeyMaterial', async () => {
    const keyId = await newKey();
    const first = (await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId;
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    const { CiphertextBlob } = await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('m') }));
    await kms.client.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const current = (await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId;
    expect(current).not.toBe(first);
    expect((await kms.client.send(new ListKeyRotationsCommand({ KeyId: keyId }))).Rotations!.map((r) => r.KeyMaterialId)).toEqual([current]);
    // The old ciphertext opens with its own material; ReEncrypt names both.
    expect((await kms.client.send(new DecryptCommand({ CiphertextBlob }))).KeyMaterialId).toBe(first);
    const re = await kms.client.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: keyId }));
    expect([re.SourceKeyMaterialId, re.DestinationKeyMaterialId]).toEqual([first, current]);
    // Asymmetric keys have none.
    const signing = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: signing }))).KeyMetadata!.CurrentKeyMaterialId).toBeUndefined();
    // Imported material: none before the import, the import's own id after it.
    const imported = await newKey({ Origin: 'EXTERNAL' });
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: imported }))).KeyMetadata!.CurrentKeyMaterialId).toBeUndefined();
    const params = await kms.client.send(new GetParametersForImportCommand({ KeyId: imported, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
    const wrapped = publicEncrypt({ key: createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, randomBytes(32));
    const out = await kms.client.send(new ImportKeyMaterialCommand({ KeyId: imported, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
    expect(out.KeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: imported }))).KeyMetadata!.CurrentKeyMaterialId).toBe(out.KeyMaterialId);
  });

  it('answers a disabled key with DisabledException before telling what the key can do', async () => {
    const rsa = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    const { CiphertextBlob } = await kms.client.send(new EncryptCommand({ KeyId: rsa, Plaintext: Buffer.from('m'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }));
    await kms.client.send(new DisableKeyCommand({ KeyId: rsa }));
    await expectAwsError(kms.client.send(new DecryptCommand({ KeyId: rsa, CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })), 'DisabledException');
    await expectAwsError(kms.client.send(new DecryptCommand({ KeyId: rsa, CiphertextBlob })), 'DisabledException');
    const rsaSigning = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' });
    await kms.client.send(new DisableKeyCommand({ KeyId: rsaSigning }));
    await expectAwsError(kms.client.send(new DecryptCommand({ KeyId: rsaSigning, CiphertextBlob })), 'DisabledException');
  });

  it('ReEncrypt with a SourceKeyId that did not encrypt the ciphertext answers IncorrectKeyException', async () => {
    const [a, b] = [await newKey(), await newKey()];
    const { CiphertextBlob } = await kms.client.send(new EncryptCommand({ KeyId: a, Plaintext: Buffer.from('m') }));
    await expectAwsError(kms.client.send(new ReEncryptCommand({ CiphertextBlob, SourceKeyId: b, DestinationKeyId: a })), 'IncorrectKeyException');
    const rsa = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    await expectAwsError(kms.client.send(new ReEncryptCommand({ CiphertextBlob, SourceKeyId: rsa, DestinationKeyId: a })), 'IncorrectKeyException');
  });

  it('CreateAlias without the alias/ prefix fails validation', async () => {
    const keyId = await newKey();
    const e = await expectAwsError(kms.client.send(new CreateAliasCommand({ AliasName: 'payments', TargetKeyId: keyId })), 'ValidationException');
    expect(e.message).toContain('alias/');
  });

  it('CreateKey with more than 50 tags answers TagException', async () => {
    const Tags = Array.from({ length: 51 }, (_, i) => ({ TagKey: `k${i}`, TagValue: 'v' }));
    await expectAwsError(kms.client.send(new CreateKeyCommand({ Tags })), 'TagException');
  });

  it('CreateKey with a KeySpec AWS does not have fails validation; one AWS has and no HSM here implements is unsupported', async () => {
    const e = await expectAwsError(kms.client.send(new CreateKeyCommand({ KeySpec: 'AES_256' as KeySpec })), 'ValidationException');
    expect(e.message).toMatch(/keySpec/);
    for (const KeySpec of ['ML_DSA_44', 'SM2'] as const) {
      await expectAwsError(kms.client.send(new CreateKeyCommand({ KeySpec, KeyUsage: 'SIGN_VERIFY' })), 'UnsupportedOperationException');
    }
  });

  it('an AWS operation this service does not serve answers UnsupportedOperationException, not UnknownOperationException', async () => {
    const e = await expectAwsError(kms.client.send(new DescribeCustomKeyStoresCommand({})), 'UnsupportedOperationException');
    expect(e.message).toMatch(/custom key stores/i);
    expect((await rawCall('Encapsulate', {})).body.__type).toBe('UnsupportedOperationException');
  });

  it('InvalidCiphertextException, KMSInvalidSignatureException and KMSInvalidMacException carry no message, as in AWS', async () => {
    const garbage = await rawCall('Decrypt', { CiphertextBlob: randomBytes(64).toString('base64') });
    expect(garbage).toEqual({ status: 400, body: { __type: 'InvalidCiphertextException' } });

    const signing = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const { Signature } = await kms.client.send(new SignCommand({ KeyId: signing, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }));
    const badSignature = await rawCall('Verify', { KeyId: signing, Message: Buffer.from('other').toString('base64'), Signature: Buffer.from(Signature!).toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' });
    expect(badSignature).toEqual({ status: 400, body: { __type: 'KMSInvalidSignatureException' } });
    await expectAwsError(kms.client.send(new VerifyCommand({ KeyId: signing, Message: Buffer.from('other'), Signature, SigningAlgorithm: 'ECDSA_SHA_256' })), 'KMSInvalidSignatureException');

    const hmac = await newKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const { Mac } = await kms.client.send(new GenerateMacCommand({ KeyId: hmac, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' }));
    const badMac = await rawCall('VerifyMac', { KeyId: hmac, Message: Buffer.from('other').toString('base64'), Mac: Buffer.from(Mac!).toString('base64'), MacAlgorithm: 'HMAC_SHA_256' });
    expect(badMac).toEqual({ status: 400, body: { __type: 'KMSInvalidMacException' } });
    await expectAwsError(kms.client.send(new VerifyMacCommand({ KeyId: hmac, Message: Buffer.from('other'), Mac, MacAlgorithm: 'HMAC_SHA_256' })), 'KMSInvalidMacException');
  });

  it('DryRunModifiers IGNORE_CIPHERTEXT checks Decrypt and ReEncrypt permissions on the named key without a ciphertext', async () => {
    const [keyId, other] = [await newKey(), await newKey()];
    const ignoring = { DryRun: true, DryRunModifiers: ['IGNORE_CIPHERTEXT' as const] };
    await expectAwsError(kms.client.send(new DecryptCommand({ KeyId: keyId, ...ignoring })), 'DryRunOperationException');
    await expectAwsError(kms.client.send(new ReEncryptCommand({ SourceKeyId: keyId, DestinationKeyId: other, ...ignoring })), 'DryRunOperationException');
    // The key named is the one checked: a caller allowed only to encrypt is refused; so is a disabled key.
    const arn = 'arn:aws:iam::111122223333:user/encrypt-only';
    const admin = testAdmin(kms.endpoint);
    await admin('CreatePrincipal', { Arn: arn });
    const statement = { Effect: 'Allow', Action: ['kms:Encrypt', 'kms:ReEncryptTo'], Resource: '*' };
    await admin('PutPrincipalPolicy', { PrincipalArn: arn, PolicyName: 'p', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [statement] }) });
    const { AccessKey } = (await admin('CreateAccessKey', { PrincipalArn: arn })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
    const encryptOnly = kmsClient(kms.endpoint, AccessKey.AccessKeyId, AccessKey.SecretAccessKey);
    await expectAwsError(encryptOnly.send(new DecryptCommand({ KeyId: keyId, ...ignoring })), 'AccessDeniedException');
    await expectAwsError(encryptOnly.send(new ReEncryptCommand({ SourceKeyId: keyId, DestinationKeyId: other, ...ignoring })), 'AccessDeniedException');
    encryptOnly.destroy();
    const disabled = await newKey();
    await kms.client.send(new DisableKeyCommand({ KeyId: disabled }));
    await expectAwsError(kms.client.send(new DecryptCommand({ KeyId: disabled, ...ignoring })), 'DisabledException');
    // Without a key, or without the DryRun, the ciphertext is needed.
    await expectAwsError(kms.client.send(new DecryptCommand({ ...ignoring })), 'ValidationException');
    const e = await expectAwsError(kms.client.send(new DecryptCommand({ KeyId: keyId, DryRunModifiers: ['IGNORE_CIPHERTEXT'] })), 'ValidationException');
    expect(e.message).toContain('ciphertextBlob');
  });

  it('DeleteImportedKeyMaterial works on a key pending deletion, which stays so; cancelling its deletion leaves it PendingImport', async () => {
    const keyId = await newKey({ Origin: 'EXTERNAL' });
    const material = randomBytes(32);
    const importMaterial = async () => {
      const params = await kms.client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
      const wrapped = publicEncrypt({ key: createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, material);
      await kms.client.send(new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
    };
    await importMaterial();
    await kms.client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    const deleted = await kms.client.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect(deleted).toMatchObject({ KeyId: ARN_PREFIX + keyId, KeyMaterialId: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('PendingDeletion');
    await kms.client.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('PendingImport');
    await importMaterial();
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('Enabled');
  });
});
