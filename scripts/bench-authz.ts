/**
 * The per-request cost of authorization, in microseconds: Authorizer.authorize as
 * every Encrypt calls it, against a key policy of 10 statements with conditions
 * and a caller with two identity policies, next to AWS's default key policy.
 *
 *   node --import tsx scripts/bench-authz.ts [iterations=200000]
 *
 * In-process and single-threaded, on the same objects the service uses (a real
 * in-memory SQLite store behind the caches, warmed first), so the figure is the
 * authorizer's own CPU time per request, with no I/O.
 */
import { systemClock } from '../src/app.js';
import { CallRecord } from '../src/audit/call-record.js';
import { defaultKeyPolicy } from '../src/domain/default-policy.js';
import type { KmsKey } from '../src/domain/key.js';
import { Policy } from '../src/domain/policy/policy.js';
import { Authorizer, type KeyAccess } from '../src/services/access/authorizer.js';
import { RequestQuotas } from '../src/services/access/request-quotas.js';
import type { CallContext } from '../src/services/context.js';
import { GrantDirectory } from '../src/services/access/grant-directory.js';
import { KeyDirectory } from '../src/services/keys/key-directory.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { keyFixture } from '../test/support/keys.js';

const iterations = Number(process.argv[2] ?? 200_000);
const account = '111122223333';
const scope = { region: 'us-east-1', accountId: account };
const alice = `arn:aws:iam::${account}:user/alice`;
const ALICE_ID = 'AIDABENCHALICE0000000';

const tenStatements = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' },
    { Sid: 'Admins', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:role/KeyAdmin` }, Action: ['kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*', 'kms:Get*', 'kms:Delete*', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion'], Resource: '*' },
    { Sid: 'No deletion outside hours', Effect: 'Deny', Principal: '*', Action: 'kms:ScheduleKeyDeletion', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': '2099-01-01T00:00:00Z' } } },
    { Sid: 'Only from the office', Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*', Condition: { NotIpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '10.0.0.0/8', '::1/128'] }, Bool: { 'aws:SecureTransport': 'false' } } },
    { Sid: 'Grants for AWS resources only', Effect: 'Allow', Principal: { AWS: alice }, Action: 'kms:CreateGrant', Resource: '*', Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } } },
    { Sid: 'Decrypt via alias', Effect: 'Allow', Principal: { AWS: alice }, Action: 'kms:Decrypt', Resource: '*', Condition: { StringLike: { 'kms:RequestAlias': 'alias/app-*' } } },
    { Sid: 'Billing only', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:role/Billing` }, Action: 'kms:GenerateDataKey*', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:department': 'billing' } } },
    { Sid: 'Symmetric only', Effect: 'Deny', Principal: '*', NotAction: ['kms:Describe*', 'kms:Get*', 'kms:List*'], Resource: '*', Condition: { StringNotEquals: { 'kms:KeySpec': 'SYMMETRIC_DEFAULT' } } },
    { Sid: 'Tenant keys', Effect: 'Allow', Principal: { AWS: alice }, Action: 'kms:ReEncrypt*', Resource: '*', Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant', 'purpose'] } } },
    { Sid: 'Alice encrypts for her tenant', Effect: 'Allow', Principal: { AWS: alice }, Action: ['kms:Encrypt', 'kms:GenerateDataKey'], Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'acme', 'kms:CallerAccount': account }, StringEqualsIgnoreCase: { 'kms:EncryptionAlgorithm': 'symmetric_default' } } },
  ],
});

const identity = [
  Policy.parse(JSON.stringify({ Statement: { Effect: 'Allow', Action: ['kms:Describe*', 'kms:List*'], Resource: '*' } }), 'identity'),
  Policy.parse(JSON.stringify({ Statement: { Effect: 'Deny', Action: 'kms:Disable*', Resource: '*', Condition: { Null: { 'aws:ResourceTag/owner': 'true' } } } }), 'identity'),
];

function key(policy: string): KmsKey {
  // The policy bound to alice's unique id, as PutKeyPolicy binds it.
  return keyFixture('1234abcd-12ab-34cd-56ef-1234567890ab', { ...scope, policy, policyPrincipals: { [alice]: ALICE_ID } });
}

const store = new SqliteStore(':memory:');
const clock = systemClock;
// Quotas off: this measures the authorization decision alone.
const authorizer = new Authorizer(new KeyDirectory(store, clock, 60_000), new GrantDirectory(store.grants, clock, 60_000), new RequestQuotas(new Map(), clock), clock);
const request = { sourceIp: '127.0.0.1', secureTransport: true, grantTokens: [] };
const aliceCtx: CallContext = { principal: { accountId: account, arn: alice, uniqueId: ALICE_ID, accessKeyId: 'AKIA', identityPolicies: identity, operator: false }, scope, request, requestId: 'bench', record: new CallRecord(), quotasCharged: new Set() };
const rootCtx: CallContext = { principal: { accountId: account, arn: `arn:aws:iam::${account}:root`, uniqueId: account, accessKeyId: 'AKIA', identityPolicies: [], operator: true }, scope, request, requestId: 'bench', record: new CallRecord(), quotasCharged: new Set() };
const encrypt: KeyAccess = { action: 'Encrypt', encryptionContext: { tenant: 'acme', purpose: 'invoices' }, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' };

async function measure(label: string, ctx: CallContext, k: KmsKey, access: KeyAccess): Promise<void> {
  for (let i = 0; i < 20_000; i++) await authorizer.authorize(ctx, k, access); // warm the caches and the JIT
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await authorizer.authorize(ctx, k, access);
  const us = Number(process.hrtime.bigint() - start) / 1e3 / iterations;
  console.log(`${label.padEnd(62)} ${us.toFixed(2)} µs per request`);
}

const parsed = Policy.parse(tenStatements, 'key');
console.log(`authorization cost, ${iterations} calls each (key policy: ${parsed.statements.length} statements, ${parsed.conditionKeys.size} condition keys)`);
await measure('10-statement policy + 2 identity policies, Encrypt by a user', aliceCtx, key(tenStatements), encrypt);
await measure('10-statement policy, Encrypt by the account root', rootCtx, key(tenStatements), encrypt);
await measure("AWS's default key policy, Encrypt by the account root", rootCtx, key(defaultKeyPolicy(account)), encrypt);
const parseStart = process.hrtime.bigint();
for (let i = 0; i < 2_000; i++) Policy.parse(tenStatements, 'key');
console.log(`${'parsing the 10-statement policy (done once per policy change)'.padEnd(62)} ${(Number(process.hrtime.bigint() - parseStart) / 1e3 / 2_000).toFixed(2)} µs`);
await store.close();
