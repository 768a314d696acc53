import { constants, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import {
  CreateGrantCommand,
  CreateKeyCommand,
  DeriveSharedSecretCommand,
  GenerateDataKeyPairCommand,
  GenerateMacCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  EncryptCommand,
  SignCommand,
  TagResourceCommand,
  type CreateKeyCommandInput,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { FILLED_CONDITION_KEYS } from '../../src/domain/policy/conditions.js';
import { expectAwsError } from '../support/errors.js';
import { useTestService } from '../support/service.js';

/**
 * The operation-specific condition keys, each in a Deny that must apply: without
 * the key filled from the request, the condition never matches and the call is
 * served. Where it is cheap, a request the Deny does not name is served too.
 * (The request-wide keys are in authorization.test.ts.)
 */
const ROOT = 'arn:aws:iam::111122223333:root';
const enableIam = { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' };
const denying = (action: string, condition: object) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [enableIam, { Sid: 'Deny', Effect: 'Deny', Principal: { AWS: ROOT }, Action: action, Resource: '*', Condition: condition }] });

const kms = useTestService();

async function keyWith(policy: string, input: CreateKeyCommandInput = {}): Promise<string> {
  return (await kms.client.send(new CreateKeyCommand({ ...input, Policy: policy }))).KeyMetadata!.KeyId!;
}

/** Import parameters and 256 bits of material wrapped for them. */
async function wrappedMaterial(keyId: string) {
  const params = await kms.client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
  const publicKey = createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' });
  return { ImportToken: params.ImportToken, EncryptedKeyMaterial: publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, randomBytes(32)) };
}

const GRANTEE = ROOT;
const tested = new Set<string>();

describe('operation-specific condition keys, each in a Deny that must apply', () => {
  it('kms:DataKeyPairSpec', async () => {
    tested.add('kms:datakeypairspec');
    const keyId = await keyWith(denying('kms:GenerateDataKeyPair', { StringEquals: { 'kms:DataKeyPairSpec': 'ECC_NIST_P384' } }));
    await expectAwsError(kms.client.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P384' })), 'AccessDeniedException');
    await kms.client.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' }));
  });

  it('kms:GrantConstraintType and kms:RetiringPrincipal', async () => {
    tested.add('kms:grantconstrainttype').add('kms:retiringprincipal');
    const constrained = await keyWith(denying('kms:CreateGrant', { StringEquals: { 'kms:GrantConstraintType': 'EncryptionContextSubset' } }));
    await expectAwsError(
      kms.client.send(new CreateGrantCommand({ KeyId: constrained, GranteePrincipal: GRANTEE, Operations: ['Encrypt'], Constraints: { EncryptionContextSubset: { a: 'b' } } })),
      'AccessDeniedException',
    );
    await kms.client.send(new CreateGrantCommand({ KeyId: constrained, GranteePrincipal: GRANTEE, Operations: ['Encrypt'], Constraints: { EncryptionContextEquals: { a: 'b' } } }));
    const retiring = await keyWith(denying('kms:CreateGrant', { StringEquals: { 'kms:RetiringPrincipal': ROOT } }));
    await expectAwsError(kms.client.send(new CreateGrantCommand({ KeyId: retiring, GranteePrincipal: GRANTEE, RetiringPrincipal: ROOT, Operations: ['Encrypt'] })), 'AccessDeniedException');
    await kms.client.send(new CreateGrantCommand({ KeyId: retiring, GranteePrincipal: GRANTEE, Operations: ['Encrypt'] }));
  });

  it('kms:MacAlgorithm', async () => {
    tested.add('kms:macalgorithm');
    const keyId = await keyWith(denying('kms:GenerateMac', { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } }), { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    await expectAwsError(kms.client.send(new GenerateMacCommand({ KeyId: keyId, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' })), 'AccessDeniedException');
  });

  it('kms:MessageType and kms:SigningAlgorithm', async () => {
    tested.add('kms:messagetype').add('kms:signingalgorithm');
    const raw = await keyWith(denying('kms:Sign', { StringEquals: { 'kms:MessageType': 'RAW' } }), { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    await expectAwsError(kms.client.send(new SignCommand({ KeyId: raw, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })), 'AccessDeniedException');
    await kms.client.send(new SignCommand({ KeyId: raw, Message: Buffer.alloc(32, 1), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }));
    const pss = await keyWith(denying('kms:Sign', { StringLike: { 'kms:SigningAlgorithm': 'RSASSA_PSS_*' } }), { KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' });
    await expectAwsError(kms.client.send(new SignCommand({ KeyId: pss, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' })), 'AccessDeniedException');
    await kms.client.send(new SignCommand({ KeyId: pss, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }));
  });

  it('kms:KeyAgreementAlgorithm', async () => {
    tested.add('kms:keyagreementalgorithm');
    const keyId = await keyWith(denying('kms:DeriveSharedSecret', { StringEquals: { 'kms:KeyAgreementAlgorithm': 'ECDH' } }), { KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
    const PublicKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
    await expectAwsError(kms.client.send(new DeriveSharedSecretCommand({ KeyId: keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey })), 'AccessDeniedException');
    const allowed = await keyWith(denying('kms:DeriveSharedSecret', { StringNotEquals: { 'kms:KeyAgreementAlgorithm': 'ECDH' } }), { KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
    await kms.client.send(new DeriveSharedSecretCommand({ KeyId: allowed, KeyAgreementAlgorithm: 'ECDH', PublicKey }));
  });

  it('kms:WrappingKeySpec', async () => {
    tested.add('kms:wrappingkeyspec');
    const keyId = await keyWith(denying('kms:GetParametersForImport', { StringEquals: { 'kms:WrappingKeySpec': 'RSA_2048' } }), { Origin: 'EXTERNAL' });
    await expectAwsError(kms.client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' })), 'AccessDeniedException');
  });

  it('kms:ExpirationModel and kms:ValidTo', async () => {
    tested.add('kms:expirationmodel').add('kms:validto');
    const forever = await keyWith(denying('kms:ImportKeyMaterial', { StringEquals: { 'kms:ExpirationModel': 'KEY_MATERIAL_DOES_NOT_EXPIRE' } }), { Origin: 'EXTERNAL' });
    await expectAwsError(kms.client.send(new ImportKeyMaterialCommand({ KeyId: forever, ...(await wrappedMaterial(forever)), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })), 'AccessDeniedException');
    const inAMonth = Math.floor(Date.now() / 1000) + 30 * 86_400;
    const late = await keyWith(denying('kms:ImportKeyMaterial', { NumericGreaterThan: { 'kms:ValidTo': inAMonth } }), { Origin: 'EXTERNAL' });
    const tooLate = new Date((inAMonth + 86_400) * 1000);
    await expectAwsError(kms.client.send(new ImportKeyMaterialCommand({ KeyId: late, ...(await wrappedMaterial(late)), ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: tooLate })), 'AccessDeniedException');
    await kms.client.send(new ImportKeyMaterialCommand({ KeyId: late, ...(await wrappedMaterial(late)), ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date((inAMonth - 86_400) * 1000) }));
  });

  it('kms:GranteePrincipal, kms:GrantOperations and kms:GrantIsForAWSResource', async () => {
    tested.add('kms:granteeprincipal').add('kms:grantoperations').add('kms:grantisforawsresource');
    const grantee = await keyWith(denying('kms:CreateGrant', { StringEquals: { 'kms:GranteePrincipal': GRANTEE } }));
    await expectAwsError(kms.client.send(new CreateGrantCommand({ KeyId: grantee, GranteePrincipal: GRANTEE, Operations: ['Encrypt'] })), 'AccessDeniedException');
    await kms.client.send(new CreateGrantCommand({ KeyId: grantee, GranteePrincipal: 'arn:aws:iam::444455556666:root', Operations: ['Encrypt'] }));
    const operations = await keyWith(denying('kms:CreateGrant', { 'ForAnyValue:StringEquals': { 'kms:GrantOperations': 'Decrypt' } }));
    await expectAwsError(kms.client.send(new CreateGrantCommand({ KeyId: operations, GranteePrincipal: GRANTEE, Operations: ['Encrypt', 'Decrypt'] })), 'AccessDeniedException');
    await kms.client.send(new CreateGrantCommand({ KeyId: operations, GranteePrincipal: GRANTEE, Operations: ['Encrypt'] }));
    // No AWS service calls this one: every grant is for no AWS resource.
    const forResources = await keyWith(denying('kms:CreateGrant', { Bool: { 'kms:GrantIsForAWSResource': 'false' } }));
    await expectAwsError(kms.client.send(new CreateGrantCommand({ KeyId: forResources, GranteePrincipal: GRANTEE, Operations: ['Encrypt'] })), 'AccessDeniedException');
  });

  // Request-wide keys and the key's own: a Deny on Encrypt (TagResource for aws:TagKeys) whose condition this
  // request meets must apply, and the same Deny with a value the request does not have must not.
  const encrypt = (keyId: string, context?: Record<string, string>) => kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), EncryptionContext: context }));
  const longAgo = '2000-01-01T00:00:00Z';
  const cases: Array<{ key: string; action?: string; applies: object; passes?: object; call?: (keyId: string) => Promise<unknown> }> = [
    { key: 'aws:CurrentTime', applies: { DateGreaterThan: { 'aws:CurrentTime': longAgo } }, passes: { DateLessThan: { 'aws:CurrentTime': longAgo } } },
    { key: 'aws:EpochTime', applies: { NumericGreaterThan: { 'aws:EpochTime': 946684800 } }, passes: { NumericLessThan: { 'aws:EpochTime': 946684800 } } },
    { key: 'aws:PrincipalAccount', applies: { StringEquals: { 'aws:PrincipalAccount': '111122223333' } }, passes: { StringEquals: { 'aws:PrincipalAccount': '444455556666' } } },
    { key: 'aws:PrincipalArn', applies: { StringEquals: { 'aws:PrincipalArn': ROOT } }, passes: { StringEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:user/nobody' } } },
    { key: 'aws:SourceIp', applies: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }, passes: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } },
    // The account root has no user name: absent, as in IAM.
    { key: 'aws:username', applies: { Null: { 'aws:username': 'true' } }, passes: { Null: { 'aws:username': 'false' } } },
    { key: 'kms:ViaService', applies: { Null: { 'kms:ViaService': 'true' } }, passes: { Null: { 'kms:ViaService': 'false' } } },
    { key: 'kms:EncryptionAlgorithm', applies: { StringEquals: { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' } }, passes: { StringEquals: { 'kms:EncryptionAlgorithm': 'RSAES_OAEP_SHA_256' } } },
    {
      key: 'kms:EncryptionContextKeys',
      applies: { 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'tenant' } },
      passes: { 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'other' } },
      call: (keyId) => encrypt(keyId, { tenant: 'a' }),
    },
    { key: 'kms:KeyOrigin', applies: { StringEquals: { 'kms:KeyOrigin': 'AWS_KMS' } }, passes: { StringEquals: { 'kms:KeyOrigin': 'EXTERNAL' } } },
    { key: 'kms:KeySpec', applies: { StringEquals: { 'kms:KeySpec': 'SYMMETRIC_DEFAULT' } }, passes: { StringEquals: { 'kms:KeySpec': 'HMAC_256' } } },
    { key: 'kms:KeyUsage', applies: { StringEquals: { 'kms:KeyUsage': 'ENCRYPT_DECRYPT' } }, passes: { StringEquals: { 'kms:KeyUsage': 'SIGN_VERIFY' } } },
    { key: 'kms:CustomerMasterKeySpec', applies: { StringEquals: { 'kms:CustomerMasterKeySpec': 'SYMMETRIC_DEFAULT' } }, passes: { StringEquals: { 'kms:CustomerMasterKeySpec': 'HMAC_256' } } },
    { key: 'kms:CustomerMasterKeyUsage', applies: { StringEquals: { 'kms:CustomerMasterKeyUsage': 'ENCRYPT_DECRYPT' } }, passes: { StringEquals: { 'kms:CustomerMasterKeyUsage': 'SIGN_VERIFY' } } },
    {
      key: 'aws:TagKeys',
      action: 'kms:TagResource',
      applies: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'secret' } },
      passes: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'other' } },
      call: (keyId) => kms.client.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'secret', TagValue: 'x' }] })),
    },
  ];
  it.each(cases)('$key', async ({ key, action = 'kms:Encrypt', applies, passes, call = (keyId: string) => encrypt(keyId) }) => {
    tested.add(key.toLowerCase());
    await expectAwsError(call(await keyWith(denying(action, applies))), 'AccessDeniedException');
    if (passes) await call(await keyWith(denying(action, passes)));
  });

  it('leaves no filled key without an end-to-end case, in this file or another', async () => {
    const dir = new URL('./', import.meta.url);
    let others = '';
    for (const file of await readdir(dir)) if (file.endsWith('.test.ts') && file !== 'condition-keys.test.ts') others += (await readFile(new URL(file, dir), 'utf8')).toLowerCase();
    const missing = [...FILLED_CONDITION_KEYS].filter((k) => !tested.has(k) && !others.includes(k));
    expect(missing, 'filled condition keys no end-to-end test names').toEqual([]);
  });
});
