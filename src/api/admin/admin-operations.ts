import { z } from 'zod';
import type { StoredAccessKey, StoredPrincipal } from '../../services/access/access-ports.js';
import { UnsupportedOperationException } from '../../domain/errors.js';
import { defineOperation, type Operation, type Output } from '../operation.js';
import { epochSeconds } from '../schemas.js';

/**
 * The project's own admin API (X-Amz-Target HsmKmsAdmin.<Operation>), on the same
 * endpoint, protocol and SigV4 as KMS: principals, access keys and identity
 * policies, driven by the admin CLI (src/cli/admin.ts).
 */

const arn = z.string().min(1).max(2048);
const accessKeyId = z.string().regex(/^[A-Z0-9]{16,128}$/);

const principalOut = (p: StoredPrincipal) => ({
  Arn: p.arn,
  UniqueId: p.uniqueId,
  AccountId: p.accountId,
  Type: p.kind,
  Name: p.name,
  Enabled: p.enabled,
  CreationDate: epochSeconds(p.creationDate),
});
const accessKeyOut = (k: StoredAccessKey) => ({ AccessKeyId: k.accessKeyId, PrincipalArn: k.principalArn, Status: k.status, CreationDate: epochSeconds(k.creationDate) });
const newKeyOut = (k: { accessKeyId: string; secretAccessKey: string; principalArn: string }) => ({
  AccessKey: { AccessKeyId: k.accessKeyId, SecretAccessKey: k.secretAccessKey, PrincipalArn: k.principalArn },
});

/** A new access key's id and principal for the audit trail: never its secret. */
const accessKeyAudit = (output: Output) => {
  const key = output.AccessKey as { AccessKeyId: string; PrincipalArn: string };
  return { accessKey: { accessKeyId: key.AccessKeyId, principalArn: key.PrincipalArn } };
};

const all: Operation[] = [
  defineOperation({
    name: 'CreateAccount',
    audit: { kind: 'change', request: ['AccountId'], response: accessKeyAudit },
    input: z.object({ AccountId: z.string() }),
    handle: async ({ principals }, ctx, input) => newKeyOut(await principals.createAccount(ctx, input.AccountId)),
  }),
  defineOperation({
    name: 'CreatePrincipal',
    audit: { kind: 'change', request: ['Arn'], response: ['Principal'] },
    input: z.object({ Arn: arn }),
    handle: async ({ principals }, ctx, input) => ({ Principal: principalOut(await principals.createPrincipal(ctx, input.Arn)) }),
  }),
  defineOperation({
    name: 'ListPrincipals',
    audit: { kind: 'read', request: ['AccountId'] },
    input: z.object({ AccountId: z.string().regex(/^\d{12}$/).optional() }),
    handle: async ({ principals }, ctx, input) => ({ Principals: (await principals.listPrincipals(ctx, input.AccountId)).map(principalOut) }),
  }),
  defineOperation({
    name: 'UpdatePrincipal',
    audit: { kind: 'change', request: ['Arn', 'Enabled'] },
    input: z.object({ Arn: arn, Enabled: z.boolean() }),
    handle: async ({ principals }, ctx, input) => {
      await principals.setPrincipalEnabled(ctx, input.Arn, input.Enabled);
      return {};
    },
  }),
  defineOperation({
    name: 'DeletePrincipal',
    audit: { kind: 'change', request: ['Arn'] },
    input: z.object({ Arn: arn }),
    handle: async ({ principals }, ctx, input) => {
      await principals.deletePrincipal(ctx, input.Arn);
      return {};
    },
  }),
  defineOperation({
    name: 'CreateAccessKey',
    audit: { kind: 'change', request: ['PrincipalArn'], response: accessKeyAudit },
    input: z.object({ PrincipalArn: arn }),
    handle: async ({ principals }, ctx, input) => newKeyOut(await principals.createAccessKey(ctx, input.PrincipalArn)),
  }),
  defineOperation({
    name: 'ListAccessKeys',
    audit: { kind: 'read', request: ['PrincipalArn'] },
    input: z.object({ PrincipalArn: arn }),
    handle: async ({ principals }, ctx, input) => ({ AccessKeys: (await principals.listAccessKeys(ctx, input.PrincipalArn)).map(accessKeyOut) }),
  }),
  defineOperation({
    name: 'UpdateAccessKey',
    audit: { kind: 'change', request: ['AccessKeyId', 'Status'] },
    input: z.object({ AccessKeyId: accessKeyId, Status: z.enum(['Active', 'Inactive']) }),
    handle: async ({ principals }, ctx, input) => {
      await principals.setAccessKeyStatus(ctx, input.AccessKeyId, input.Status);
      return {};
    },
  }),
  defineOperation({
    name: 'RotateAccessKeySecret',
    audit: { kind: 'change', request: ['AccessKeyId'], response: accessKeyAudit },
    input: z.object({ AccessKeyId: accessKeyId }),
    handle: async ({ principals }, ctx, input) => newKeyOut(await principals.rotateSecret(ctx, input.AccessKeyId)),
  }),
  defineOperation({
    name: 'DeleteAccessKey',
    audit: { kind: 'change', request: ['AccessKeyId'] },
    input: z.object({ AccessKeyId: accessKeyId }),
    handle: async ({ principals }, ctx, input) => {
      await principals.deleteAccessKey(ctx, input.AccessKeyId);
      return {};
    },
  }),
  defineOperation({
    name: 'PutPrincipalPolicy',
    audit: { kind: 'change', request: ['PrincipalArn', 'PolicyName', 'PolicyDocument'] },
    input: z.object({ PrincipalArn: arn, PolicyName: z.string().min(1).max(128), PolicyDocument: z.string().min(1).max(131072) }),
    handle: async ({ principals }, ctx, input) => {
      await principals.putIdentityPolicy(ctx, input.PrincipalArn, { policyName: input.PolicyName, document: input.PolicyDocument });
      return {};
    },
  }),
  defineOperation({
    name: 'ListPrincipalPolicies',
    audit: { kind: 'read', request: ['PrincipalArn'] },
    input: z.object({ PrincipalArn: arn }),
    handle: async ({ principals }, ctx, input) => ({
      Policies: (await principals.listIdentityPolicies(ctx, input.PrincipalArn)).map((p) => ({ PolicyName: p.policyName, PolicyDocument: p.document })),
    }),
  }),
  defineOperation({
    name: 'DeletePrincipalPolicy',
    audit: { kind: 'change', request: ['PrincipalArn', 'PolicyName'] },
    input: z.object({ PrincipalArn: arn, PolicyName: z.string().min(1).max(128) }),
    handle: async ({ principals }, ctx, input) => {
      await principals.deleteIdentityPolicy(ctx, input.PrincipalArn, input.PolicyName);
      return {};
    },
  }),
  defineOperation({
    name: 'GetAuditPublicKey',
    audit: { kind: 'read', request: [] },
    input: z.object({}),
    // Any authenticated caller may have it: an auditor verifies the trail with nothing else.
    handle: async ({ auditKey }) => ({ PublicKey: auditKey.publicKey, Fingerprint: auditKey.fingerprint, SignatureAlgorithm: auditKey.signatureAlgorithm }),
  }),
  defineOperation({
    name: 'DeleteKeyNow',
    audit: { kind: 'change', request: ['KeyId'] },
    input: z.object({ KeyId: z.string().min(1).max(2048) }),
    handle: async ({ deleteKeyNow }, ctx, input) => {
      if (!deleteKeyNow) throw new UnsupportedOperationException('DeleteKeyNow is served only with KMS_DEV_CONVENIENCES=true (the development profile on a loopback address).');
      await deleteKeyNow(ctx, input.KeyId);
      return {};
    },
  }),
];

export const ADMIN_TARGET_PREFIX = 'HsmKmsAdmin.';

/** The admin operations by X-Amz-Target name. */
export const ADMIN_OPERATIONS: ReadonlyMap<string, Operation> = new Map(all.map((op) => [op.name, op]));
