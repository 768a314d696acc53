import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  EnableKeyRotationCommand,
  GetParametersForImportCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyPolicyCommand,
  ListGrantsCommand,
  ListKeyPoliciesCommand,
  ListKeysCommand,
  ListRetirableGrantsCommand,
  PutKeyPolicyCommand,
  ReEncryptCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAwsError } from '../support/errors.js';
import { createKey as createTestKey } from '../support/keys.js';
import { kmsClient, startTestService, testAdmin, useTestService, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from '../support/service.js';

const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const arnOf = (name: string, account = ACCOUNT) => `arn:aws:iam::${account}:user/${name}`;
const ALICE = arnOf('alice');
const BOB = arnOf('bob');
const CAROL = arnOf('carol');

let root: KMSClient;
const clients: KMSClient[] = [];

function admin(operation: string, input: Record<string, unknown>, creds?: { accessKeyId: string; secretAccessKey: string }) {
  return testAdmin(kms.endpoint, creds)(operation, input);
}

async function userClient(arn: string, creds?: { accessKeyId: string; secretAccessKey: string }): Promise<{ client: KMSClient; accessKeyId: string; secretAccessKey: string }> {
  await admin('CreatePrincipal', { Arn: arn }, creds);
  const { AccessKey } = (await admin('CreateAccessKey', { PrincipalArn: arn }, creds)) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
  const client = kmsClient(kms.endpoint, AccessKey.AccessKeyId, AccessKey.SecretAccessKey);
  clients.push(client);
  return { client, accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey };
}

const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const enableIam = { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' };

async function createKey(keyPolicy?: string): Promise<{ keyId: string; arn: string }> {
  const metadata = await createTestKey(root, { Policy: keyPolicy });
  return { keyId: metadata.KeyId!, arn: metadata.Arn! };
}

const text = (s: string) => Buffer.from(s);

let alice: KMSClient;
let bob: KMSClient;
let carol: KMSClient;
let key: { keyId: string; arn: string };

const kms = useTestService();
beforeAll(async () => {
  root = kms.client;
  ({ client: alice } = await userClient(ALICE));
  ({ client: bob } = await userClient(BOB));
  ({ client: carol } = await userClient(CAROL));
  key = await createKey(
    policy(
      enableIam,
      {
        Sid: 'Alice encrypts only for project alpha',
        Effect: 'Allow',
        Principal: { AWS: ALICE },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:EncryptionContext:project': 'alpha' } },
      },
      { Sid: 'Nobody deletes this key', Effect: 'Deny', Principal: '*', Action: 'kms:ScheduleKeyDeletion', Resource: '*' },
    ),
  );
});

afterAll(async () => {
  for (const c of clients) c.destroy();
});

describe('key policies', () => {
  it('never fail open: a condition key the service cannot decide is refused, and a documented one it fills is enforced', async () => {
    const target = await createKey();
    const denyUntagged = policy(enableIam, { Sid: 'Deny other organisations', Effect: 'Deny', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*', Condition: { StringNotEquals: { 'aws:PrincipalOrgID': 'o-security' } } });
    const refused = await expectAwsError(root.send(new PutKeyPolicyCommand({ KeyId: target.keyId, Policy: denyUntagged })), 'MalformedPolicyDocumentException');
    expect(refused.message).toContain('Condition key aws:PrincipalOrgID is not supported by this service');
    await expectAwsError(root.send(new CreateKeyCommand({ Policy: denyUntagged })), 'MalformedPolicyDocumentException');
    // kms:ScheduleKeyDeletionPendingWindowInDays is filled from the request: a Deny on short windows applies.
    const longWindowsOnly = policy(enableIam, { Sid: 'No short deletion windows', Effect: 'Deny', Principal: { AWS: ROOT }, Action: 'kms:ScheduleKeyDeletion', Resource: '*', Condition: { NumericLessThan: { 'kms:ScheduleKeyDeletionPendingWindowInDays': 30 } } });
    await root.send(new PutKeyPolicyCommand({ KeyId: target.keyId, Policy: longWindowsOnly }));
    await expectAwsError(root.send(new ScheduleKeyDeletionCommand({ KeyId: target.keyId, PendingWindowInDays: 7 })), 'AccessDeniedException');
    await root.send(new ScheduleKeyDeletionCommand({ KeyId: target.keyId, PendingWindowInDays: 30 }));
  });

  it('enforce the request keys the service fills, each in a Deny that must apply', async () => {
    const deny = (sid: string, action: string, condition: object) => ({ Sid: sid, Effect: 'Deny', Principal: { AWS: ROOT }, Action: action, Resource: '*', Condition: condition });
    const statements = [
      enableIam,
      deny('Short rotation periods', 'kms:EnableKeyRotation', { NumericLessThan: { 'kms:RotationPeriodInDays': 180 } }),
      deny('No OAEP with SHA-1', 'kms:GetParametersForImport', { StringEquals: { 'kms:WrappingAlgorithm': 'RSAES_OAEP_SHA_1' } }),
      deny('Only here', 'kms:DescribeKey', { StringNotEquals: { 'aws:RequestedRegion': 'us-east-1' } }),
      deny('No bypassing', 'kms:PutKeyPolicy', { Bool: { 'kms:BypassPolicyLockoutSafetyCheck': 'true' } }),
      deny('No re-encryption under the same key', 'kms:ReEncrypt*', { Bool: { 'kms:ReEncryptOnSameKey': 'true' } }),
    ];
    const symmetric = await createKey(policy(...statements));
    await expectAwsError(root.send(new EnableKeyRotationCommand({ KeyId: symmetric.keyId, RotationPeriodInDays: 90 })), 'AccessDeniedException');
    await root.send(new EnableKeyRotationCommand({ KeyId: symmetric.keyId, RotationPeriodInDays: 365 }));
    await root.send(new DescribeKeyCommand({ KeyId: symmetric.keyId })); // the service's Region is us-east-1
    await expectAwsError(root.send(new PutKeyPolicyCommand({ KeyId: symmetric.keyId, Policy: policy(...statements), BypassPolicyLockoutSafetyCheck: true })), 'AccessDeniedException');
    await root.send(new PutKeyPolicyCommand({ KeyId: symmetric.keyId, Policy: policy(...statements) }));
    const external = (await root.send(new CreateKeyCommand({ Origin: 'EXTERNAL', Policy: policy(...statements) }))).KeyMetadata!.KeyId!;
    await expectAwsError(root.send(new GetParametersForImportCommand({ KeyId: external, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_2048' })), 'AccessDeniedException');
    await root.send(new GetParametersForImportCommand({ KeyId: external, WrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1', WrappingKeySpec: 'RSA_2048' }));
    const { CiphertextBlob } = await root.send(new EncryptCommand({ KeyId: symmetric.keyId, Plaintext: text('moving') }));
    await expectAwsError(root.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: symmetric.keyId })), 'AccessDeniedException');
    const elsewhere = await createKey();
    await root.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: elsewhere.keyId }));
  });

  it('decide who the caller is: aws:PrincipalType, aws:userid and aws:PrincipalTag/* (absent: principals carry no tags here)', async () => {
    const aliceId = ((await admin('ListPrincipals', { AccountId: ACCOUNT })) as { Principals: Array<{ Arn: string; UniqueId: string }> }).Principals.find((p) => p.Arn === ALICE)!.UniqueId;
    const aliceEncrypts = { Sid: 'Alice encrypts', Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'kms:Encrypt', Resource: '*' };
    const denyEncrypt = (condition: object) => ({ Sid: 'Deny', Effect: 'Deny', Principal: '*', Action: 'kms:Encrypt', Resource: '*', Condition: condition });
    for (const condition of [
      { StringEquals: { 'aws:PrincipalType': 'User' } },
      { StringEquals: { 'aws:userid': aliceId } },
      { Null: { 'aws:PrincipalTag/team': 'true' } },
    ]) {
      const { keyId } = await createKey(policy(enableIam, aliceEncrypts, denyEncrypt(condition)));
      await expectAwsError(alice.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('denied') })), 'AccessDeniedException');
      // The account root is neither a User nor alice, and has no tags either.
      if (!('Null' in condition)) await root.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('root') }));
    }
    const { keyId } = await createKey(policy(enableIam, aliceEncrypts, denyEncrypt({ StringEquals: { 'aws:PrincipalType': 'Account' } })));
    await alice.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('a user') }));
    await expectAwsError(root.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('the root') })), 'AccessDeniedException');
  });

  it('lets the user encrypt only with the encryption context its statement names', async () => {
    const { CiphertextBlob } = await alice.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('hi'), EncryptionContext: { project: 'alpha' } }));
    const { Plaintext } = await alice.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { project: 'alpha' } }));
    expect(Buffer.from(Plaintext!).toString()).toBe('hi');

    const denied = await expectAwsError(alice.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('hi'), EncryptionContext: { project: 'beta' } })), 'AccessDeniedException');
    // Her own statement does not match, and the account statement delegates to IAM, where she has nothing.
    expect(denied.message).toBe(`User: ${ALICE} is not authorized to perform: kms:Encrypt on resource: ${key.arn} because no identity-based policy allows the kms:Encrypt action`);
    await expectAwsError(alice.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('hi') })), 'AccessDeniedException');
    await expectAwsError(alice.send(new DescribeKeyCommand({ KeyId: key.keyId })), 'AccessDeniedException');
    // A ciphertext made for project alpha, presented without the context, is refused by the policy before the token is asked.
    await expectAwsError(alice.send(new DecryptCommand({ CiphertextBlob })), 'AccessDeniedException');
  });

  it('holds an explicit deny even against the account root', async () => {
    const denied = await expectAwsError(root.send(new ScheduleKeyDeletionCommand({ KeyId: key.keyId, PendingWindowInDays: 7 })), 'AccessDeniedException');
    expect(denied.message).toBe(`User: ${ROOT} is not authorized to perform: kms:ScheduleKeyDeletion on resource: ${key.arn} with an explicit deny in a resource-based policy`);
    const { KeyMetadata } = await root.send(new DescribeKeyCommand({ KeyId: key.keyId }));
    expect(KeyMetadata!.KeyState).toBe('Enabled');
  });

  it('delegates to identity policies through the account statement, and an identity deny wins', async () => {
    const denied = await expectAwsError(carol.send(new DescribeKeyCommand({ KeyId: key.keyId })), 'AccessDeniedException');
    expect(denied.message).toContain('because no identity-based policy allows the kms:DescribeKey action');

    // Attached with the project's admin CLI, as an operator would.
    const cli = path.resolve('src/cli/admin.ts');
    const identity = policy(
      { Effect: 'Allow', Action: ['kms:Describe*', 'kms:Get*', 'kms:List*'], Resource: key.arn },
      { Effect: 'Deny', Action: 'kms:GetKeyPolicy', Resource: '*' },
    );
    await promisify(execFile)(process.execPath, ['--import', 'tsx', cli, 'put-policy', CAROL, 'key-reader', identity, '--endpoint', kms.endpoint], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY },
    });
    const { KeyMetadata } = await carol.send(new DescribeKeyCommand({ KeyId: key.keyId }));
    expect(KeyMetadata!.KeyId).toBe(key.keyId);
    const { PolicyNames } = await carol.send(new ListKeyPoliciesCommand({ KeyId: key.keyId }));
    expect(PolicyNames).toEqual(['default']);
    const identityDeny = await expectAwsError(carol.send(new GetKeyPolicyCommand({ KeyId: key.keyId })), 'AccessDeniedException');
    expect(identityDeny.message).toContain('with an explicit deny in an identity-based policy');
    // The identity policy names this key only, and CreateKey is not among its actions.
    await expectAwsError(carol.send(new CreateKeyCommand({})), 'AccessDeniedException');
  });

  it('refuses a policy that would lock the caller out, unless the check is bypassed', async () => {
    const other = await createKey();
    const aliceOnly = policy({ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'kms:*', Resource: '*' });
    const refused = await expectAwsError(root.send(new PutKeyPolicyCommand({ KeyId: other.keyId, Policy: aliceOnly })), 'MalformedPolicyDocumentException');
    expect(refused.message).toBe('The new key policy will not allow you to update the key policy in the future.');
    await expectAwsError(root.send(new CreateKeyCommand({ Policy: aliceOnly })), 'MalformedPolicyDocumentException');

    await root.send(new PutKeyPolicyCommand({ KeyId: other.keyId, Policy: aliceOnly, BypassPolicyLockoutSafetyCheck: true }));
    const lockedOut = await expectAwsError(root.send(new GetKeyPolicyCommand({ KeyId: other.keyId })), 'AccessDeniedException');
    expect(lockedOut.message).toBe(`User: ${ROOT} is not authorized to perform: kms:GetKeyPolicy on resource: ${other.arn} because no resource-based policy allows the kms:GetKeyPolicy action`);
    const { Policy } = await alice.send(new GetKeyPolicyCommand({ KeyId: other.keyId }));
    expect(JSON.parse(Policy!)).toEqual(JSON.parse(aliceOnly));
  });

  it('is never written back by a concurrent change of the key\'s state', async () => {
    const target = await createKey();
    const stale = await kms.service.store.getKey(target.keyId);
    const restricted = policy(enableIam, { Effect: 'Deny', Principal: { AWS: BOB }, Action: 'kms:*', Resource: '*' });
    await root.send(new PutKeyPolicyCommand({ KeyId: target.keyId, Policy: restricted }));
    // Another instance that read the key before the PutKeyPolicy now saves a description change.
    await kms.service.store.updateKey({ ...stale!, description: 'changed elsewhere' });
    const { Policy } = await root.send(new GetKeyPolicyCommand({ KeyId: target.keyId }));
    expect(JSON.parse(Policy!)).toEqual(JSON.parse(restricted));
  });

  it('reads resource tags and aliases only when a condition asks, and sees changes at once', async () => {
    const tagged = await createKey(
      policy(enableIam, {
        Effect: 'Allow',
        Principal: { AWS: ALICE },
        Action: 'kms:Encrypt',
        Resource: '*',
        Condition: { StringEquals: { 'aws:ResourceTag/team': 'red', 'kms:RequestAlias': 'alias/red-team' }, 'ForAnyValue:StringLike': { 'kms:ResourceAliases': 'alias/red-*' } },
      }),
    );
    await root.send(new CreateAliasCommand({ AliasName: 'alias/red-team', TargetKeyId: tagged.keyId }));
    const viaAlias = () => alice.send(new EncryptCommand({ KeyId: 'alias/red-team', Plaintext: text('t') }));
    await expectAwsError(viaAlias(), 'AccessDeniedException');
    await root.send(new TagResourceCommand({ KeyId: tagged.keyId, Tags: [{ TagKey: 'team', TagValue: 'red' }] }));
    await viaAlias();
    // The alias is required by kms:RequestAlias: the key id alone does not match.
    await expectAwsError(alice.send(new EncryptCommand({ KeyId: tagged.keyId, Plaintext: text('t') })), 'AccessDeniedException');
    await root.send(new UntagResourceCommand({ KeyId: tagged.keyId, TagKeys: ['team'] }));
    await expectAwsError(viaAlias(), 'AccessDeniedException');
  });

  it('validates policy documents', async () => {
    const cases = [
      '{not json',
      policy({ Effect: 'Permit', Principal: '*', Action: 'kms:*', Resource: '*' }),
      policy({ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*', Condition: { StringEqualz: { 'kms:CallerAccount': ACCOUNT } } }),
      policy({ Effect: 'Allow', Principal: { AWS: arnOf('nobody') }, Action: 'kms:*', Resource: '*' }),
      policy({ Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*', Sid: 'x'.repeat(40_000) }),
    ];
    for (const document of cases) {
      await expectAwsError(root.send(new PutKeyPolicyCommand({ KeyId: key.keyId, Policy: document })), 'MalformedPolicyDocumentException');
    }
    const { Policy } = await root.send(new GetKeyPolicyCommand({ KeyId: key.keyId }));
    expect(Policy).toContain('Alice encrypts only for project alpha');
  });
});

describe('grants', () => {
  it('allow exactly the operations and encryption contexts they name, at once with their token', async () => {
    const { GrantId, GrantToken } = await root.send(
      new CreateGrantCommand({
        KeyId: key.keyId,
        GranteePrincipal: BOB,
        RetiringPrincipal: CAROL,
        Operations: ['Encrypt', 'Decrypt'],
        Constraints: { EncryptionContextSubset: { tenant: 't1' } },
      }),
    );
    const tokens = [GrantToken!];
    const { CiphertextBlob } = await bob.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('g'), EncryptionContext: { tenant: 't1', extra: 'x' }, GrantTokens: tokens }));
    await bob.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { tenant: 't1', extra: 'x' } }));
    // Grant constraints compare keys without case, values exactly (AWS GrantConstraints).
    await bob.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('g'), EncryptionContext: { TENANT: 't1' } }));
    await expectAwsError(bob.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('g'), EncryptionContext: { tenant: 'T1' } })), 'AccessDeniedException');
    await expectAwsError(bob.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('g'), EncryptionContext: { tenant: 't2' } })), 'AccessDeniedException');
    await expectAwsError(bob.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('g') })), 'AccessDeniedException');
    await expectAwsError(bob.send(new GenerateDataKeyCommand({ KeyId: key.keyId, KeySpec: 'AES_256', EncryptionContext: { tenant: 't1' } })), 'AccessDeniedException');
    await expectAwsError(bob.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('g'), GrantTokens: ['not-a-grant-token'] })), 'InvalidGrantTokenException');

    const { Grants } = await root.send(new ListGrantsCommand({ KeyId: key.keyId }));
    expect(Grants!.map((g) => g.GrantId)).toContain(GrantId);
    const { Grants: retirable } = await root.send(new ListRetirableGrantsCommand({ RetiringPrincipal: CAROL }));
    expect(retirable!.map((g) => g.GrantId)).toEqual([GrantId]);

    // The grantee may not retire a grant without RetireGrant; its retiring principal may.
    await expectAwsError(bob.send(new RetireGrantCommand({ GrantToken })), 'AccessDeniedException');
    await carol.send(new RetireGrantCommand({ KeyId: key.arn, GrantId }));
    await expectAwsError(bob.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('g'), EncryptionContext: { tenant: 't1' }, GrantTokens: tokens })), 'AccessDeniedException');
  });

  it('with EncryptionContextEquals allow only that exact context', async () => {
    const { GrantToken } = await root.send(
      new CreateGrantCommand({ KeyId: key.keyId, GranteePrincipal: BOB, Operations: ['GenerateDataKey', 'RetireGrant'], Constraints: { EncryptionContextEquals: { tenant: 't9' } } }),
    );
    await bob.send(new GenerateDataKeyCommand({ KeyId: key.keyId, KeySpec: 'AES_256', EncryptionContext: { tenant: 't9' } }));
    await expectAwsError(bob.send(new GenerateDataKeyCommand({ KeyId: key.keyId, KeySpec: 'AES_256', EncryptionContext: { tenant: 't9', more: 'x' } })), 'AccessDeniedException');
    // Keys that differ only in case do not merge into a match.
    await expectAwsError(bob.send(new GenerateDataKeyCommand({ KeyId: key.keyId, KeySpec: 'AES_256', EncryptionContext: { tenant: 'x', TENANT: 't9' } })), 'AccessDeniedException');
    // This grant includes RetireGrant, so its grantee may retire it.
    await bob.send(new RetireGrantCommand({ GrantToken }));
    await expectAwsError(bob.send(new GenerateDataKeyCommand({ KeyId: key.keyId, KeySpec: 'AES_256', EncryptionContext: { tenant: 't9' } })), 'AccessDeniedException');
  });

  it('made through a CreateGrant grant hand on no more than the parent grant holds', async () => {
    await root.send(
      new CreateGrantCommand({ KeyId: key.keyId, GranteePrincipal: BOB, Operations: ['CreateGrant', 'Encrypt'], Constraints: { EncryptionContextSubset: { tenant: 't5' } } }),
    );
    const stricter = { EncryptionContextSubset: { tenant: 't5', region: 'eu' } };
    const { GrantToken } = await bob.send(new CreateGrantCommand({ KeyId: key.keyId, GranteePrincipal: CAROL, Operations: ['Encrypt'], Constraints: stricter }));
    await carol.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('c'), EncryptionContext: { tenant: 't5', region: 'eu' }, GrantTokens: [GrantToken!] }));
    await expectAwsError(carol.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('c'), EncryptionContext: { tenant: 't5' } })), 'AccessDeniedException');
    // Wider operations, or a looser constraint, than bob's own grant.
    await expectAwsError(bob.send(new CreateGrantCommand({ KeyId: key.keyId, GranteePrincipal: CAROL, Operations: ['Decrypt'], Constraints: stricter })), 'AccessDeniedException');
    await expectAwsError(bob.send(new CreateGrantCommand({ KeyId: key.keyId, GranteePrincipal: CAROL, Operations: ['Encrypt'] })), 'AccessDeniedException');
    await expectAwsError(
      bob.send(new CreateGrantCommand({ KeyId: key.keyId, GranteePrincipal: CAROL, Operations: ['Encrypt'], Constraints: { EncryptionContextSubset: { tenant: 't6' } } })),
      'AccessDeniedException',
    );
  });

  it('refuse operations a key cannot perform, and are gone once revoked', async () => {
    await expectAwsError(root.send(new CreateGrantCommand({ KeyId: key.keyId, GranteePrincipal: BOB, Operations: ['Sign'] })), 'ValidationException');
    await expectAwsError(root.send(new CreateGrantCommand({ KeyId: key.keyId, GranteePrincipal: 'bob', Operations: ['Encrypt'] })), 'ValidationException');
    const { GrantId } = await root.send(new CreateGrantCommand({ KeyId: key.keyId, GranteePrincipal: BOB, Operations: ['DescribeKey'], Name: 'describe' }));
    // Name makes CreateGrant idempotent.
    const again = await root.send(new CreateGrantCommand({ KeyId: key.keyId, GranteePrincipal: BOB, Operations: ['DescribeKey'], Name: 'describe' }));
    expect(again.GrantId).toBe(GrantId);
    await bob.send(new DescribeKeyCommand({ KeyId: key.keyId }));
    await root.send(new RevokeGrantCommand({ KeyId: key.keyId, GrantId }));
    await expectAwsError(bob.send(new DescribeKeyCommand({ KeyId: key.keyId })), 'AccessDeniedException');
  });
});

describe('DryRun', () => {
  it('authorizes and validates, does nothing, and answers DryRunOperationException', async () => {
    await expectAwsError(alice.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('x'), EncryptionContext: { project: 'alpha' }, DryRun: true })), 'DryRunOperationException');
    // Authorization comes first: a DryRun the caller may not perform is AccessDenied.
    await expectAwsError(alice.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: text('x'), EncryptionContext: { project: 'beta' }, DryRun: true })), 'AccessDeniedException');

    const count = async () => (await root.send(new ListGrantsCommand({ KeyId: key.keyId }))).Grants!.length;
    const before = await count();
    await expectAwsError(root.send(new CreateGrantCommand({ KeyId: key.keyId, GranteePrincipal: BOB, Operations: ['Decrypt'], DryRun: true })), 'DryRunOperationException');
    expect(await count()).toBe(before);

    const { GrantId, GrantToken } = await root.send(new CreateGrantCommand({ KeyId: key.keyId, GranteePrincipal: BOB, RetiringPrincipal: CAROL, Operations: ['Decrypt'] }));
    await expectAwsError(root.send(new RevokeGrantCommand({ KeyId: key.keyId, GrantId, DryRun: true })), 'DryRunOperationException');
    await expectAwsError(carol.send(new RetireGrantCommand({ GrantToken, DryRun: true })), 'DryRunOperationException');
    await expectAwsError(bob.send(new RetireGrantCommand({ GrantToken, DryRun: true })), 'AccessDeniedException');
    expect(await count()).toBe(before + 1);
  });
});

describe('principals and access keys', () => {
  it('keeps secrets only sealed in the database, and applies disable, rotate and delete at once', async () => {
    const dave = arnOf('dave');
    const { client, accessKeyId, secretAccessKey } = await userClient(dave);
    await admin('PutPrincipalPolicy', { PrincipalArn: dave, PolicyName: 'list', PolicyDocument: policy({ Effect: 'Allow', Action: 'kms:ListKeys', Resource: '*' }) });
    await client.send(new ListKeysCommand({}));

    const stored = await kms.service.store.principals.getAccessKey(accessKeyId);
    expect(stored!.sealedSecret.includes(Buffer.from(secretAccessKey))).toBe(false);
    if (process.env.KMS_TEST_STORE !== 'postgres') {
      // The whole SQLite file too: the secret is nowhere in it.
      const db = Buffer.concat(await Promise.all(['kms.sqlite', 'kms.sqlite-wal'].map((f) => readFile(path.join(kms.dataDir, f)).catch(() => Buffer.alloc(0)))));
      expect(db.includes(Buffer.from(accessKeyId))).toBe(true);
      expect(db.includes(Buffer.from(secretAccessKey))).toBe(false);
    }

    await admin('UpdateAccessKey', { AccessKeyId: accessKeyId, Status: 'Inactive' });
    await expectAwsError(client.send(new ListKeysCommand({})), 'UnrecognizedClientException');
    await admin('UpdateAccessKey', { AccessKeyId: accessKeyId, Status: 'Active' });
    await client.send(new ListKeysCommand({}));

    const { AccessKey } = (await admin('RotateAccessKeySecret', { AccessKeyId: accessKeyId })) as { AccessKey: { SecretAccessKey: string } };
    await expectAwsError(client.send(new ListKeysCommand({})), 'InvalidSignatureException');
    const rotated = kmsClient(kms.endpoint, accessKeyId, AccessKey.SecretAccessKey);
    clients.push(rotated);
    await rotated.send(new ListKeysCommand({}));

    await admin('UpdatePrincipal', { Arn: dave, Enabled: false });
    await expectAwsError(rotated.send(new ListKeysCommand({})), 'UnrecognizedClientException');
    await admin('UpdatePrincipal', { Arn: dave, Enabled: true });
    await rotated.send(new ListKeysCommand({}));

    await admin('DeletePrincipal', { Arn: dave });
    await expectAwsError(rotated.send(new ListKeysCommand({})), 'UnrecognizedClientException');
  });

  it('lets only the operator and an account root manage principals', async () => {
    const erin = await userClient(arnOf('erin'));
    const { AccessKeys } = (await admin('ListAccessKeys', { PrincipalArn: arnOf('erin') })) as { AccessKeys: Array<{ AccessKeyId: string; Status: string }> };
    expect(AccessKeys).toEqual([expect.objectContaining({ AccessKeyId: erin.accessKeyId, Status: 'Active' })]);
    await expect(admin('CreatePrincipal', { Arn: arnOf('mallory') }, erin)).rejects.toThrow(/AccessDeniedException/);
    await expect(admin('CreateAccount', { AccountId: '999988887777' }, erin)).rejects.toThrow(/AccessDeniedException/);
    // No answer tells a caller whether an access key id is in use: a user is refused before any lookup,
    // and another account's root hears of another account's key what it hears of one that does not exist.
    const grace = await userClient(arnOf('grace'));
    for (const operation of ['UpdateAccessKey', 'DeleteAccessKey', 'RotateAccessKeySecret']) {
      const input = (id: string) => (operation === 'UpdateAccessKey' ? { AccessKeyId: id, Status: 'Inactive' } : { AccessKeyId: id });
      const known = await admin(operation, input(grace.accessKeyId), erin).then(() => 'done', (e: Error) => e.message);
      const unknown = await admin(operation, input('AKIAUNKNOWN000000000'), erin).then(() => 'done', (e: Error) => e.message);
      expect(known).toMatch(/AccessDeniedException/);
      expect(unknown.replace('AKIAUNKNOWN000000000', grace.accessKeyId)).toBe(known);
    }
    const { AccessKey: otherRoot } = (await admin('CreateAccount', { AccountId: '777788889999' })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
    const asOtherRoot = { accessKeyId: otherRoot.AccessKeyId, secretAccessKey: otherRoot.SecretAccessKey };
    const known = await admin('UpdateAccessKey', { AccessKeyId: grace.accessKeyId, Status: 'Inactive' }, asOtherRoot).then(() => 'done', (e: Error) => e.message);
    const unknown = await admin('UpdateAccessKey', { AccessKeyId: 'AKIAUNKNOWN000000000', Status: 'Inactive' }, asOtherRoot).then(() => 'done', (e: Error) => e.message);
    expect(known).toMatch(/NotFoundException/);
    expect(unknown.replace('AKIAUNKNOWN000000000', grace.accessKeyId)).toBe(known);
    // Nothing was changed by any of it.
    const { AccessKeys: graces } = (await admin('ListAccessKeys', { PrincipalArn: arnOf('grace') })) as { AccessKeys: Array<{ AccessKeyId: string; Status: string }> };
    expect(graces).toEqual([expect.objectContaining({ AccessKeyId: grace.accessKeyId, Status: 'Active' })]);
  });
});

describe('another account', () => {
  it('needs both the key policy and its own identity policy', async () => {
    const { AccessKey } = (await admin('CreateAccount', { AccountId: OTHER_ACCOUNT })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
    const otherRootCreds = { accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey };
    const otherRoot = kmsClient(kms.endpoint, otherRootCreds.accessKeyId, otherRootCreds.secretAccessKey);
    clients.push(otherRoot);
    const frank = arnOf('frank', OTHER_ACCOUNT);
    const { client: frankClient } = await userClient(frank, otherRootCreds);
    // An account root manages its own account only.
    await expect(admin('CreatePrincipal', { Arn: arnOf('intruder') }, otherRootCreds)).rejects.toThrow(/AccessDeniedException/);

    const shared = await createKey(
      policy(enableIam, { Sid: 'Other account may encrypt', Effect: 'Allow', Principal: { AWS: OTHER_ACCOUNT }, Action: ['kms:Encrypt', 'kms:DescribeKey'], Resource: '*' }),
    );
    await otherRoot.send(new EncryptCommand({ KeyId: shared.arn, Plaintext: text('x') }));
    const denied = await expectAwsError(frankClient.send(new EncryptCommand({ KeyId: shared.arn, Plaintext: text('x') })), 'AccessDeniedException');
    expect(denied.message).toContain('because no identity-based policy allows the kms:Encrypt action');
    await admin('PutPrincipalPolicy', { PrincipalArn: frank, PolicyName: 'use-shared', PolicyDocument: policy({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: shared.arn }) }, otherRootCreds);
    await frankClient.send(new EncryptCommand({ KeyId: shared.arn, Plaintext: text('x') }));
    // The key policy does not give the other account Decrypt, whatever its IAM says; and a bare key id names its own account's keys.
    await expectAwsError(otherRoot.send(new DecryptCommand({ CiphertextBlob: (await root.send(new EncryptCommand({ KeyId: shared.keyId, Plaintext: text('y') }))).CiphertextBlob })), 'AccessDeniedException');
    await expectAwsError(otherRoot.send(new DescribeKeyCommand({ KeyId: shared.keyId })), 'NotFoundException');
    // Operations AWS does not allow across accounts find nothing there.
    await expectAwsError(otherRoot.send(new ScheduleKeyDeletionCommand({ KeyId: shared.arn })), 'NotFoundException');
    const { Keys } = await otherRoot.send(new ListKeysCommand({}));
    expect(Keys).toEqual([]);
    // Another account's retirable grants are not for listing.
    await expectAwsError(otherRoot.send(new ListRetirableGrantsCommand({ RetiringPrincipal: CAROL })), 'AccessDeniedException');
  });
});

describe('two instances sharing the database and token', () => {
  it('see a new grant at once through its grant token, and without it only after the cache TTL', async () => {
    const second = await startTestService({ dataDir: kms.dataDir, config: { metadataCacheTtlMs: 60_000 } });
    try {
      const { AccessKey } = (await admin('CreateAccessKey', { PrincipalArn: BOB })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
      const bobOnSecond = kmsClient(second.endpoint, AccessKey.AccessKeyId, AccessKey.SecretAccessKey);
      clients.push(bobOnSecond);
      const fresh = await createKey();
      const encrypt = (grantTokens?: string[]) => bobOnSecond.send(new EncryptCommand({ KeyId: fresh.arn, Plaintext: text('2'), GrantTokens: grantTokens }));
      // The second instance caches the key's (empty) grant list first.
      await expectAwsError(encrypt(), 'AccessDeniedException');
      const { GrantToken } = await root.send(new CreateGrantCommand({ KeyId: fresh.keyId, GranteePrincipal: BOB, Operations: ['Encrypt'] }));
      if (process.env.KMS_TEST_STORE === 'postgres') {
        // On PostgreSQL the instances hear each other's changes (LISTEN/NOTIFY): the grant counts within a second, token or not.
        const started = Date.now();
        while ((await encrypt().then(() => 'served', (e: Error) => e.name)) !== 'served') {
          expect(Date.now() - started).toBeLessThan(1_000);
          await new Promise((r) => setTimeout(r, 20));
        }
      } else {
        await expectAwsError(encrypt(), 'AccessDeniedException');
      }
      await encrypt([GrantToken!]);
    } finally {
      await second.stop();
    }
  });
});

describe('a principal is bound by its unique id, not its name', () => {
  const uniqueIdOf = async (arn: string) =>
    ((await admin('ListPrincipals', { AccountId: ACCOUNT })) as { Principals: Array<{ Arn: string; UniqueId: string }> }).Principals.find((p) => p.Arn === arn)?.UniqueId;

  it('gives a namesake made after a deletion nothing a key policy or a grant gave the principal before it', async () => {
    const dave = arnOf('dave');
    const first = await userClient(dave);
    const daveStatement = { Sid: 'Dave encrypts', Effect: 'Allow', Principal: { AWS: dave }, Action: 'kms:Encrypt', Resource: '*' };
    const byPolicy = await createKey(policy(enableIam, daveStatement));
    const byGrant = await createKey();
    await root.send(new CreateGrantCommand({ KeyId: byGrant.keyId, GranteePrincipal: dave, RetiringPrincipal: dave, Operations: ['Encrypt', 'RetireGrant'] }));
    await first.client.send(new EncryptCommand({ KeyId: byPolicy.keyId, Plaintext: text('first dave') }));
    await first.client.send(new EncryptCommand({ KeyId: byGrant.keyId, Plaintext: text('first dave') }));
    const firstId = await uniqueIdOf(dave);
    expect(firstId).toMatch(/^AIDA[A-Z2-7]{17}$/);

    await admin('DeletePrincipal', { Arn: dave });
    const second = await userClient(dave);
    expect(await uniqueIdOf(dave)).not.toBe(firstId);
    await expectAwsError(second.client.send(new EncryptCommand({ KeyId: byPolicy.keyId, Plaintext: text('namesake') })), 'AccessDeniedException');
    await expectAwsError(second.client.send(new EncryptCommand({ KeyId: byGrant.keyId, Plaintext: text('namesake') })), 'AccessDeniedException');
    const [grant] = (await root.send(new ListGrantsCommand({ KeyId: byGrant.keyId }))).Grants!;
    await expectAwsError(second.client.send(new RetireGrantCommand({ KeyId: byGrant.arn, GrantId: grant!.GrantId })), 'AccessDeniedException');
    expect((await root.send(new ListRetirableGrantsCommand({ RetiringPrincipal: dave }))).Grants).toEqual([]);

    // As AWS shows them: the grant and the key policy name the principal that is gone by its unique id.
    expect(grant).toMatchObject({ GranteePrincipal: firstId, RetiringPrincipal: firstId });
    const shown = (await root.send(new GetKeyPolicyCommand({ KeyId: byPolicy.keyId, PolicyName: 'default' }))).Policy!;
    expect(shown).toContain(firstId);
    expect(shown).not.toContain(dave);

    // Named again, the new principal is the one bound.
    await root.send(new PutKeyPolicyCommand({ KeyId: byPolicy.keyId, PolicyName: 'default', Policy: policy(enableIam, daveStatement) }));
    await second.client.send(new EncryptCommand({ KeyId: byPolicy.keyId, Plaintext: text('second dave, named') }));
    await root.send(new CreateGrantCommand({ KeyId: byGrant.keyId, GranteePrincipal: dave, Operations: ['Encrypt'] }));
    await second.client.send(new EncryptCommand({ KeyId: byGrant.keyId, Plaintext: text('second dave, granted') }));
  });

  it('refuses a grant to a principal that does not exist, and makes none', async () => {
    const { keyId } = await createKey();
    const ghost = arnOf('ghost');
    await expectAwsError(root.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: ghost, Operations: ['Encrypt'] })), 'InvalidArnException');
    await expectAwsError(root.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: ALICE, RetiringPrincipal: ghost, Operations: ['Encrypt'] })), 'InvalidArnException');
    expect((await root.send(new ListGrantsCommand({ KeyId: keyId }))).Grants).toEqual([]);
    // An account root needs no principal of its own.
    await root.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: `arn:aws:iam::${OTHER_ACCOUNT}:root`, Operations: ['Encrypt'] }));
  });
});
