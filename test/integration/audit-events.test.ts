import { constants, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DeriveSharedSecretCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateMacCommand,
  GenerateRandomCommand,
  GetKeyLastUsageCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  GetParametersForImportCommand,
  type GetParametersForImportCommandOutput,
  GetPublicKeyCommand,
  ImportKeyMaterialCommand,
  KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeyPoliciesCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  ListRetirableGrantsCommand,
  PutKeyPolicyCommand,
  ReEncryptCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  TagResourceCommand,
  UntagResourceCommand,
  ReplicateKeyCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
  UpdatePrimaryRegionCommand,
  VerifyCommand,
  VerifyMacCommand,
} from '@aws-sdk/client-kms';
import * as sdk from '@aws-sdk/client-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_OPERATIONS } from '../../src/api/admin/admin-operations.js';
import { OPERATIONS } from '../../src/api/operations/index.js';
import { refusedOperations } from '../../src/api/operations/refused-operations.js';
import { defaultKeyPolicy } from '../../src/domain/default-policy.js';
import { auditEvents, trailBytes } from '../support/audit.js';
import { DAY_MS, TestClock } from '../support/clock.js';
import { keyFixture } from '../support/keys.js';
import { kmsClientConfig, testAdmin, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, useTestService } from '../support/service.js';

const clock = new TestClock();
const lines: string[] = [];
const kms = useTestService({ clock, logLines: lines, config: { schedulerIntervalMs: 0, otherRegions: ['eu-west-1'] } });
const ROOT = 'arn:aws:iam::111122223333:root';
const USER = 'arn:aws:iam::111122223333:user/auditee';

/** Everything a call carried or received that must never reach the trail or the log. */
const secrets: Buffer[] = [];
const keep = (b: Uint8Array | undefined) => {
  secrets.push(Buffer.from(b!));
  return b!;
};

let sym: string;
let sym2: string;
let hmac: string;
let ecc: string;
let agreeing: string;
let external: string;
let multiRegion: string;
let blob: Uint8Array;
let user: { accessKeyId: string; secretAccessKey: string };
const admin = () => testAdmin(kms.endpoint);

async function newKey(input: ConstructorParameters<typeof CreateKeyCommand>[0] = {}): Promise<string> {
  return (await kms.client.send(new CreateKeyCommand(input))).KeyMetadata!.KeyId!;
}

beforeAll(async () => {
  sym = await newKey();
  sym2 = await newKey();
  hmac = await newKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
  ecc = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
  agreeing = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
  external = await newKey({ Origin: 'EXTERNAL' });
  multiRegion = await newKey({ MultiRegion: true });
  blob = (await kms.client.send(new EncryptCommand({ KeyId: sym, Plaintext: keep(Buffer.from('plaintext-of-the-setup-0001')) }))).CiphertextBlob!;
  await admin()('CreatePrincipal', { Arn: USER });
  const { AccessKey } = (await admin()('CreateAccessKey', { PrincipalArn: USER })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
  user = { accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey };
  keep(Buffer.from(user.secretAccessKey));
});

interface Case {
  readonly name: string;
  readonly call: () => Promise<unknown>;
  /** The key ARNs (or alias ARNs) the event's resources must name, in order. */
  readonly resources?: () => string[];
  readonly error?: string;
  /** Members its requestParameters must hold. */
  readonly params?: () => Record<string, unknown>;
  /** Service events the call writes before its own (AWS's CreateKey of a replica in its region). */
  readonly alsoWrites?: readonly string[];
}

const arn = (keyId: string, region = 'us-east-1') => `arn:aws:kms:${region}:111122223333:key/${keyId}`;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const send = <T>(command: T): Promise<any> => kms.client.send(command as Parameters<KMSClient['send']>[0]);
let grantId: string;
let grantToDelete: string;

/** One call of every operation the service answers, in an order where each has what it needs. */
const CASES: Case[] = [
  { name: 'CreateKey', call: () => send(new CreateKeyCommand({ Description: 'audited', Tags: [{ TagKey: 'team', TagValue: 'audit' }] })), params: () => ({ description: 'audited', tags: [{ tagKey: 'team', tagValue: 'audit' }] }) },
  { name: 'DescribeKey', call: () => send(new DescribeKeyCommand({ KeyId: sym })), resources: () => [arn(sym)], params: () => ({ keyId: sym }) },
  { name: 'ListKeys', call: () => send(new ListKeysCommand({ Limit: 10 })), params: () => ({ limit: 10 }) },
  { name: 'Encrypt', call: () => send(new EncryptCommand({ KeyId: sym, Plaintext: keep(Buffer.from('plaintext-of-encrypt-0002')), EncryptionContext: { purpose: 'audit' } })), resources: () => [arn(sym)], params: () => ({ keyId: sym, encryptionContext: { purpose: 'audit' } }) },
  { name: 'Decrypt', call: async () => keep((await send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext), resources: () => [arn(sym)] },
  { name: 'ReEncrypt', call: () => send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: sym2 })), resources: () => [arn(sym2), arn(sym)], params: () => ({ destinationKeyId: sym2 }) },
  { name: 'GenerateDataKey', call: async () => keep((await send(new GenerateDataKeyCommand({ KeyId: sym, KeySpec: 'AES_256' }))).Plaintext), resources: () => [arn(sym)], params: () => ({ keySpec: 'AES_256' }) },
  { name: 'GenerateDataKeyWithoutPlaintext', call: () => send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: sym, NumberOfBytes: 32 })), resources: () => [arn(sym)] },
  { name: 'GenerateDataKeyPair', call: async () => keep((await send(new GenerateDataKeyPairCommand({ KeyId: sym, KeyPairSpec: 'ECC_NIST_P256' }))).PrivateKeyPlaintext), resources: () => [arn(sym)], params: () => ({ keyPairSpec: 'ECC_NIST_P256' }) },
  { name: 'GenerateDataKeyPairWithoutPlaintext', call: () => send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: sym, KeyPairSpec: 'ECC_NIST_P256' })), resources: () => [arn(sym)] },
  { name: 'GenerateRandom', call: async () => keep((await send(new GenerateRandomCommand({ NumberOfBytes: 32 }))).Plaintext), params: () => ({ numberOfBytes: 32 }) },
  { name: 'DisableKey', call: () => send(new DisableKeyCommand({ KeyId: sym2 })), resources: () => [arn(sym2)] },
  { name: 'EnableKey', call: () => send(new EnableKeyCommand({ KeyId: sym2 })), resources: () => [arn(sym2)] },
  { name: 'UpdateKeyDescription', call: () => send(new UpdateKeyDescriptionCommand({ KeyId: sym2, Description: 'renamed' })), resources: () => [arn(sym2)], params: () => ({ description: 'renamed' }) },
  { name: 'CreateAlias', call: () => send(new CreateAliasCommand({ AliasName: 'alias/audited', TargetKeyId: sym })), resources: () => ['arn:aws:kms:us-east-1:111122223333:alias/audited', arn(sym)], params: () => ({ aliasName: 'alias/audited', targetKeyId: sym }) },
  { name: 'UpdateAlias', call: () => send(new UpdateAliasCommand({ AliasName: 'alias/audited', TargetKeyId: sym2 })), params: () => ({ aliasName: 'alias/audited', targetKeyId: sym2 }) },
  { name: 'ListAliases', call: () => send(new ListAliasesCommand({})) },
  { name: 'DeleteAlias', call: () => send(new DeleteAliasCommand({ AliasName: 'alias/audited' })), params: () => ({ aliasName: 'alias/audited' }) },
  { name: 'TagResource', call: () => send(new TagResourceCommand({ KeyId: sym, Tags: [{ TagKey: 'env', TagValue: 'test' }] })), resources: () => [arn(sym)] },
  { name: 'UntagResource', call: () => send(new UntagResourceCommand({ KeyId: sym, TagKeys: ['env'] })), resources: () => [arn(sym)], params: () => ({ tagKeys: ['env'] }) },
  { name: 'ListResourceTags', call: () => send(new ListResourceTagsCommand({ KeyId: sym })), resources: () => [arn(sym)] },
  { name: 'EnableKeyRotation', call: () => send(new EnableKeyRotationCommand({ KeyId: sym, RotationPeriodInDays: 90 })), resources: () => [arn(sym)], params: () => ({ rotationPeriodInDays: 90 }) },
  { name: 'GetKeyRotationStatus', call: () => send(new GetKeyRotationStatusCommand({ KeyId: sym })), resources: () => [arn(sym)] },
  { name: 'DisableKeyRotation', call: () => send(new DisableKeyRotationCommand({ KeyId: sym })), resources: () => [arn(sym)] },
  { name: 'RotateKeyOnDemand', call: () => send(new RotateKeyOnDemandCommand({ KeyId: sym2 })), resources: () => [arn(sym2)] },
  { name: 'ListKeyRotations', call: () => send(new ListKeyRotationsCommand({ KeyId: sym2 })), resources: () => [arn(sym2)] },
  {
    name: 'GetParametersForImport',
    call: () => send(new GetParametersForImportCommand({ KeyId: external, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' })),
    resources: () => [arn(external)],
    params: () => ({ wrappingAlgorithm: 'RSAES_OAEP_SHA_1', wrappingKeySpec: 'RSA_2048' }),
  },
  {
    name: 'ImportKeyMaterial',
    call: async () => {
      // Set-up (an event of its own) happens before the counted call: see the runner.
      const material = keep(randomBytes(32));
      const wrapped = keep(publicEncrypt({ key: createPublicKey({ key: Buffer.from(importParams.PublicKey!), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, material));
      keep(importParams.ImportToken);
      return send(new ImportKeyMaterialCommand({ KeyId: external, ImportToken: importParams.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
    },
    resources: () => [arn(external)],
    params: () => ({ expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
  },
  { name: 'DeleteImportedKeyMaterial', call: () => send(new DeleteImportedKeyMaterialCommand({ KeyId: external })), resources: () => [arn(external)] },
  { name: 'GenerateMac', call: async () => keep((await send(new GenerateMacCommand({ KeyId: hmac, MacAlgorithm: 'HMAC_SHA_256', Message: keep(Buffer.from('message-to-mac-0003')) }))).Mac), resources: () => [arn(hmac)], params: () => ({ macAlgorithm: 'HMAC_SHA_256' }) },
  {
    name: 'VerifyMac',
    call: async () => {
      return send(new VerifyMacCommand({ KeyId: hmac, MacAlgorithm: 'HMAC_SHA_256', Message: Buffer.from('message-to-mac-0003'), Mac: macOfMessage }));
    },
    resources: () => [arn(hmac)],
  },
  { name: 'Sign', call: async () => keep((await send(new SignCommand({ KeyId: ecc, Message: keep(Buffer.from('message-to-sign-0004')), MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }))).Signature), resources: () => [arn(ecc)], params: () => ({ messageType: 'RAW', signingAlgorithm: 'ECDSA_SHA_256' }) },
  { name: 'Verify', call: () => send(new VerifyCommand({ KeyId: ecc, Message: Buffer.from('message-to-sign-0004'), MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256', Signature: signature })), resources: () => [arn(ecc)] },
  { name: 'GetPublicKey', call: () => send(new GetPublicKeyCommand({ KeyId: ecc })), resources: () => [arn(ecc)] },
  {
    name: 'DeriveSharedSecret',
    call: async () => {
      const PublicKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
      return keep((await send(new DeriveSharedSecretCommand({ KeyId: agreeing, KeyAgreementAlgorithm: 'ECDH', PublicKey }))).SharedSecret);
    },
    resources: () => [arn(agreeing)],
    params: () => ({ keyAgreementAlgorithm: 'ECDH' }),
  },
  {
    name: 'ReplicateKey',
    call: () => send(new ReplicateKeyCommand({ KeyId: multiRegion, ReplicaRegion: 'eu-west-1', Description: 'replica' })),
    resources: () => [arn(multiRegion), arn(multiRegion, 'eu-west-1')],
    params: () => ({ keyId: multiRegion, replicaRegion: 'eu-west-1', description: 'replica' }),
    alsoWrites: ['CreateKey'],
  },
  {
    name: 'UpdatePrimaryRegion',
    call: () => send(new UpdatePrimaryRegionCommand({ KeyId: multiRegion, PrimaryRegion: 'eu-west-1' })),
    resources: () => [arn(multiRegion), arn(multiRegion, 'eu-west-1')],
    params: () => ({ keyId: multiRegion, primaryRegion: 'eu-west-1' }),
  },
  { name: 'GetKeyPolicy', call: () => send(new GetKeyPolicyCommand({ KeyId: sym, PolicyName: 'default' })), resources: () => [arn(sym)], params: () => ({ policyName: 'default' }) },
  { name: 'PutKeyPolicy', call: () => send(new PutKeyPolicyCommand({ KeyId: sym, PolicyName: 'default', Policy: defaultKeyPolicy('111122223333') })), resources: () => [arn(sym)], params: () => ({ policyName: 'default' }) },
  { name: 'ListKeyPolicies', call: () => send(new ListKeyPoliciesCommand({ KeyId: sym })), resources: () => [arn(sym)] },
  {
    name: 'CreateGrant',
    call: async () => {
      const out = await send(new CreateGrantCommand({ KeyId: sym, GranteePrincipal: USER, RetiringPrincipal: ROOT, Operations: ['Encrypt', 'Decrypt'], Constraints: { EncryptionContextSubset: { Team: 'a' } } }));
      grantId = out.GrantId!;
      return out;
    },
    resources: () => [arn(sym)],
    params: () => ({ granteePrincipal: USER, operations: ['Encrypt', 'Decrypt'], constraints: { encryptionContextSubset: { Team: 'a' } } }),
  },
  { name: 'ListGrants', call: () => send(new ListGrantsCommand({ KeyId: sym })), resources: () => [arn(sym)] },
  { name: 'ListRetirableGrants', call: () => send(new ListRetirableGrantsCommand({ RetiringPrincipal: ROOT })) },
  { name: 'RevokeGrant', call: () => send(new RevokeGrantCommand({ KeyId: sym, GrantId: grantToDelete })), resources: () => [arn(sym)] },
  { name: 'RetireGrant', call: () => send(new RetireGrantCommand({ KeyId: arn(sym), GrantId: grantId })), params: () => ({ grantId }) },
  { name: 'GetKeyLastUsage', call: () => send(new GetKeyLastUsageCommand({ KeyId: sym })), resources: () => [arn(sym)] },
  { name: 'ScheduleKeyDeletion', call: () => send(new ScheduleKeyDeletionCommand({ KeyId: sym2, PendingWindowInDays: 7 })), resources: () => [arn(sym2)], params: () => ({ pendingWindowInDays: 7 }) },
  { name: 'CancelKeyDeletion', call: () => send(new CancelKeyDeletionCommand({ KeyId: sym2 })), resources: () => [arn(sym2)] },
  // The admin API.
  { name: 'CreatePrincipal', call: () => admin()('CreatePrincipal', { Arn: 'arn:aws:iam::111122223333:role/audited' }), params: () => ({ arn: 'arn:aws:iam::111122223333:role/audited' }) },
  { name: 'ListPrincipals', call: () => admin()('ListPrincipals', {}) },
  { name: 'UpdatePrincipal', call: () => admin()('UpdatePrincipal', { Arn: 'arn:aws:iam::111122223333:role/audited', Enabled: false }) },
  { name: 'CreateAccessKey', call: async () => keep(Buffer.from(((await admin()('CreateAccessKey', { PrincipalArn: USER })) as { AccessKey: { SecretAccessKey: string } }).AccessKey.SecretAccessKey)) },
  { name: 'ListAccessKeys', call: () => admin()('ListAccessKeys', { PrincipalArn: USER }) },
  { name: 'UpdateAccessKey', call: () => admin()('UpdateAccessKey', { AccessKeyId: user.accessKeyId, Status: 'Active' }), params: () => ({ accessKeyId: user.accessKeyId, status: 'Active' }) },
  { name: 'RotateAccessKeySecret', call: async () => keep(Buffer.from(((await admin()('RotateAccessKeySecret', { AccessKeyId: spareAccessKey })) as { AccessKey: { SecretAccessKey: string } }).AccessKey.SecretAccessKey)) },
  { name: 'DeleteAccessKey', call: () => admin()('DeleteAccessKey', { AccessKeyId: spareAccessKey }) },
  { name: 'PutPrincipalPolicy', call: () => admin()('PutPrincipalPolicy', { PrincipalArn: USER, PolicyName: 'none', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'kms:CreateKey', Resource: '*' }] }) }), params: () => ({ policyName: 'none' }) },
  { name: 'ListPrincipalPolicies', call: () => admin()('ListPrincipalPolicies', { PrincipalArn: USER }) },
  { name: 'DeletePrincipalPolicy', call: () => admin()('DeletePrincipalPolicy', { PrincipalArn: USER, PolicyName: 'none' }) },
  { name: 'DeletePrincipal', call: () => admin()('DeletePrincipal', { Arn: 'arn:aws:iam::111122223333:role/audited' }) },
  { name: 'CreateAccount', call: async () => keep(Buffer.from(((await admin()('CreateAccount', { AccountId: '444455556666' })) as { AccessKey: { SecretAccessKey: string } }).AccessKey.SecretAccessKey)), params: () => ({ accountId: '444455556666' }) },
  { name: 'GetAuditPublicKey', call: () => admin()('GetAuditPublicKey', {}) },
];

let importParams: GetParametersForImportCommandOutput;
let macOfMessage: Uint8Array;
let signature: Uint8Array;
let spareAccessKey: string;

/** Set-up some cases need, done (with events of their own) before the counted call. */
async function prepare(name: string): Promise<void> {
  if (name === 'ImportKeyMaterial') importParams = await send(new GetParametersForImportCommand({ KeyId: external, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
  if (name === 'VerifyMac') macOfMessage = (await send(new GenerateMacCommand({ KeyId: hmac, MacAlgorithm: 'HMAC_SHA_256', Message: Buffer.from('message-to-mac-0003') }))).Mac!;
  if (name === 'Verify') signature = (await send(new SignCommand({ KeyId: ecc, Message: Buffer.from('message-to-sign-0004'), MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }))).Signature!;
  if (name === 'RevokeGrant') grantToDelete = (await send(new CreateGrantCommand({ KeyId: sym, GranteePrincipal: USER, Operations: ['Encrypt'] }))).GrantId!;
  if (name === 'RotateAccessKeySecret') {
    spareAccessKey = ((await admin()('CreateAccessKey', { PrincipalArn: 'arn:aws:iam::111122223333:role/audited' })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } }).AccessKey.AccessKeyId;
  }
}

/** Calls one case and returns the one event it added (the test fails if it added none or several, besides the service events named). */
async function onlyNewEvent(run: () => Promise<unknown>, alsoWrites: readonly string[] = []): Promise<Record<string, unknown>> {
  const before = (await auditEvents(kms.service.audit.dir)).length;
  await run().catch(() => undefined);
  const events = await auditEvents(kms.service.audit.dir);
  const added = events.slice(before);
  expect(added.slice(0, -1).map((e) => [e.eventName, e.eventType]), 'service events the call writes').toEqual(alsoWrites.map((name) => [name, 'AwsServiceEvent']));
  expect(added, 'events added by one call').toHaveLength(alsoWrites.length + 1);
  return events[events.length - 1]!;
}

describe('the audit trail', () => {
  it('covers every operation the API serves', () => {
    // DeleteKeyNow is served only with KMS_DEV_CONVENIENCES, which this service has not: dev-conveniences.test.ts checks its event.
    // The operations AWS has and this service refuses have a test of their own below.
    const refused = refusedOperations.map((op) => op.name);
    expect([...CASES.map((c) => c.name), 'DeleteKeyNow', ...refused].sort()).toEqual([...OPERATIONS.keys(), ...ADMIN_OPERATIONS.keys()].sort());
  });

  it('records a call of each AWS operation this service refuses, under its own name', async () => {
    for (const { name } of refusedOperations) {
      const event = await onlyNewEvent(() => send(new (sdk as unknown as Record<string, new (input: object) => unknown>)[`${name}Command`]!({})));
      expect(event, name).toMatchObject({ eventName: name, errorCode: 'UnsupportedOperationException', eventSource: 'kms.amazonaws.com' });
    }
  });

  it('records each call of every operation as exactly one event, with its name, caller, keys and outcome', async () => {
    for (const c of CASES) {
      await prepare(c.name);
      let failure: unknown;
      const event = await onlyNewEvent(
        () =>
          c.call().catch((e: unknown) => {
            failure = e;
          }),
        c.alsoWrites,
      );
      expect(failure, `${c.name} failed`).toBeUndefined();
      expect(event.eventName, c.name).toBe(c.name);
      expect(event.errorCode, c.name).toBeUndefined();
      expect(event).toMatchObject({ eventVersion: '1.11', eventType: 'AwsApiCall', eventCategory: 'Management', managementEvent: true, awsRegion: 'us-east-1', recipientAccountId: '111122223333' });
      expect(event.eventSource, c.name).toBe(ADMIN_OPERATIONS.has(c.name) ? 'admin.hsm-kms' : 'kms.amazonaws.com');
      expect(event.userIdentity).toEqual({ type: 'Root', principalId: '111122223333', arn: ROOT, accountId: '111122223333', accessKeyId: TEST_ACCESS_KEY_ID });
      expect(event.sourceIPAddress).toBe('127.0.0.1');
      expect(event.requestID).toMatch(/^[0-9a-f-]{36}$/);
      expect(event.eventID).toMatch(/^[0-9a-f-]{36}$/);
      if (c.resources) expect((event.resources as Array<{ ARN: string }>).map((r) => r.ARN), c.name).toEqual(c.resources());
      if (c.params) expect(event.requestParameters, c.name).toMatchObject(c.params());
    }
  });

  it('says which key material a cryptographic call used, and marks reads and changes as CloudTrail does', async () => {
    const events = await auditEvents(kms.service.audit.dir);
    const last = (name: string) => events.filter((e) => e.eventName === name && e.eventType === 'AwsApiCall').at(-1)!;
    expect(last('Encrypt')).toMatchObject({ readOnly: true, additionalEventData: { keyMaterialId: `${sym.replace(/-/g, '')}${'1'.padStart(32, '0')}` }, responseElements: null });
    expect((last('ReEncrypt').additionalEventData as Record<string, unknown>).sourceKeyMaterialId).toMatch(new RegExp(`^${sym.replace(/-/g, '')}`));
    expect((last('ReEncrypt').additionalEventData as Record<string, unknown>).destinationKeyMaterialId).toMatch(new RegExp(`^${sym2.replace(/-/g, '')}`));
    expect(last('DisableKey')).toMatchObject({ readOnly: false, responseElements: { keyId: arn(sym2) } });
    expect(last('CreateKey').responseElements).toMatchObject({ keyMetadata: { description: 'audited', keyState: 'Enabled' } });
    expect(last('ScheduleKeyDeletion').responseElements).toMatchObject({ keyId: arn(sym2), keyState: 'PendingDeletion' });
    expect(events.find((e) => e.eventName === 'CreateGrant' && (e.responseElements as Record<string, unknown>).grantId === grantId)).toMatchObject({ responseElements: { keyId: arn(sym) } });
    expect(last('GetParametersForImport').readOnly).toBe(true);
    expect(last('CreateAccessKey').responseElements).toEqual({ accessKey: { accessKeyId: spareAccessKey, principalArn: 'arn:aws:iam::111122223333:role/audited' } });
  });

  it('records refused calls too: a bad signature, an unknown access key, a validation error, a denial, a DryRun', async () => {
    const wrongSecret = new KMSClient(kmsClientConfig(kms.endpoint, TEST_ACCESS_KEY_ID, 'not-the-secret-0123456789abcdef'));
    const unknownKey = new KMSClient(kmsClientConfig(kms.endpoint, 'AKIAUNKNOWN000000001', 'whatever-secret-0123456789abcdef'));
    const userClient = new KMSClient(kmsClientConfig(kms.endpoint, user.accessKeyId, user.secretAccessKey));
    try {
      const badSignature = await onlyNewEvent(() => wrongSecret.send(new EncryptCommand({ KeyId: sym, Plaintext: Buffer.from('x') })));
      expect(badSignature).toMatchObject({ eventName: 'Encrypt', errorCode: 'InvalidSignatureException', userIdentity: { type: 'Unknown', accessKeyId: TEST_ACCESS_KEY_ID }, requestParameters: { keyId: sym } });
      expect(badSignature.resources).toBeUndefined();

      const unknown = await onlyNewEvent(() => unknownKey.send(new ListKeysCommand({})));
      expect(unknown).toMatchObject({ eventName: 'ListKeys', errorCode: 'UnrecognizedClientException', userIdentity: { type: 'Unknown', accessKeyId: 'AKIAUNKNOWN000000001' } });

      const invalid = await onlyNewEvent(() => send(new GenerateRandomCommand({ NumberOfBytes: 5000 })));
      expect(invalid).toMatchObject({ eventName: 'GenerateRandom', errorCode: 'ValidationException', userIdentity: { arn: ROOT }, requestParameters: { numberOfBytes: 5000 } });

      const denied = await onlyNewEvent(() => userClient.send(new EncryptCommand({ KeyId: sym, Plaintext: Buffer.from('x') })));
      expect(denied).toMatchObject({ eventName: 'Encrypt', errorCode: 'AccessDeniedException', userIdentity: { type: 'IAMUser', arn: USER, userName: 'auditee' } });
      expect(denied.errorMessage).toContain('is not authorized to perform: kms:Encrypt');
      expect((denied.resources as Array<{ ARN: string }>)[0]!.ARN).toBe(arn(sym));

      const dryRun = await onlyNewEvent(() => send(new EncryptCommand({ KeyId: sym, Plaintext: Buffer.from('x'), DryRun: true })));
      expect(dryRun).toMatchObject({ eventName: 'Encrypt', errorCode: 'DryRunOperationException' });
      expect(dryRun.additionalEventData).not.toHaveProperty('keyMaterialId');

      const unknownOperation = await onlyNewEvent(() =>
        fetch(kms.endpoint, { method: 'POST', headers: { 'x-amz-target': 'TrentService.NoSuchThing' }, body: '{}' }),
      );
      expect(unknownOperation).toMatchObject({ eventName: 'NoSuchThing', errorCode: 'MissingAuthenticationTokenException', userIdentity: { type: 'Unknown' } });
    } finally {
      wrongSecret.destroy();
      unknownKey.destroy();
      userClient.destroy();
    }
  });

  it('names the grant that allowed a call', async () => {
    const keyId = await newKey();
    const { GrantId } = await send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: USER, Operations: ['Encrypt'] }));
    const userClient = new KMSClient(kmsClientConfig(kms.endpoint, user.accessKeyId, user.secretAccessKey));
    try {
      const event = await onlyNewEvent(() => userClient.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('granted') })));
      expect(event.errorCode).toBeUndefined();
      expect(event.additionalEventData).toMatchObject({ authorizedBy: 'grant', grantId: GrantId });
    } finally {
      userClient.destroy();
    }
  });

  it('records background rotation, destruction, expiry and crash recovery as service events', async () => {
    const keyId = await newKey();
    await send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
    const doomed = await newKey();
    await send(new ScheduleKeyDeletionCommand({ KeyId: doomed, PendingWindowInDays: 7 }));
    const expiring = await newKey({ Origin: 'EXTERNAL' });
    const params = await send(new GetParametersForImportCommand({ KeyId: expiring, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
    const wrapped = publicEncrypt({ key: createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, randomBytes(32));
    await send(new ImportKeyMaterialCommand({ KeyId: expiring, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(clock.now().getTime() + DAY_MS) }));
    // What a crash in the middle of CreateKey leaves: a row that never became visible, and its token object.
    const halfMade = '11111111-2222-4333-8444-555555555555';
    await kms.service.store.insertProvisioningKey({ key: keyFixture(halfMade, { creationDate: clock.now() }), tags: [] });
    await kms.service.token.createSymmetricKey({ keyId: halfMade, version: 1 });
    clock.advance(91 * DAY_MS);
    const before = (await auditEvents(kms.service.audit.dir)).length;
    await kms.service.runScheduledJobs();
    const added = (await auditEvents(kms.service.audit.dir)).slice(before);
    const rotated = added.find((e) => e.eventName === 'RotateKey' && (e.resources as Array<{ ARN: string }>)[0]!.ARN === arn(keyId));
    expect(rotated).toMatchObject({
      eventType: 'AwsServiceEvent',
      userIdentity: { accountId: '111122223333', invokedBy: 'AWS Internal' },
      readOnly: false,
      serviceEventDetails: { keyId, rotationType: 'AUTOMATIC', keyOrigin: 'AWS_KMS', currentKeyMaterialId: `${keyId.replace(/-/g, '')}${'2'.padStart(32, '0')}` },
    });
    const destroyed = added.find((e) => e.eventName === 'DeleteKey');
    expect(destroyed).toMatchObject({ eventType: 'AwsServiceEvent', resources: [{ ARN: arn(doomed), accountId: '111122223333', type: 'AWS::KMS::Key' }], serviceEventDetails: { keyId: doomed } });
    const expired = added.find((e) => e.eventName === 'DeleteExpiredKeyMaterial');
    expect(expired).toMatchObject({ eventType: 'AwsServiceEvent', resources: [{ ARN: arn(expiring) }], serviceEventDetails: { keyId: expiring, keyMaterialId: `${expiring.replace(/-/g, '')}${'1'.padStart(32, '0')}` } });
    const recovered = added.find((e) => e.eventName === 'RecoverInterruptedKeyCreation');
    expect(recovered).toMatchObject({ eventType: 'AwsServiceEvent', resources: [{ ARN: arn(halfMade) }], serviceEventDetails: { keyId: halfMade, keyMaterialDestroyed: true } });
    expect(await kms.service.token.hasKey({ keyId: halfMade, version: 1 })).toBe(false);
  });

  it('holds no plaintext, data key, private key, import material, MAC, signature or secret, in the trail or in the log', async () => {
    const trail = await trailBytes(kms.service.audit.dir);
    const log = lines.join('\n');
    const pin = (await readFile(path.join(kms.dataDir, 'softhsm', 'user.pin'), 'utf8')).trim();
    expect(secrets.length).toBeGreaterThan(10);
    const forbidden = [...secrets.flatMap((s) => [s.toString('base64'), s.toString('hex')]), ...secrets.filter((s) => /^[\x20-\x7e]+$/.test(s.toString('latin1'))).map((s) => s.toString('utf8')), pin, TEST_SECRET_ACCESS_KEY];
    for (const f of forbidden) {
      expect(trail.includes(f), `trail contains ${f}`).toBe(false);
      expect(log.includes(f), `log contains ${f}`).toBe(false);
    }
  });
});
