import { z } from 'zod';
import type { StoredAccessKey, StoredPrincipal } from '../../services/access-ports.js';
import { defineOperation, type Operation } from '../operation.js';
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

const all: Operation[] = [
  defineOperation({
    name: 'CreateAccount',
    input: z.object({ AccountId: z.string() }),
    handle: async ({ principals }, ctx, input) => newKeyOut(await principals.createAccount(ctx, input.AccountId)),
  }),
  defineOperation({
    name: 'CreatePrincipal',
    input: z.object({ Arn: arn }),
    handle: async ({ principals }, ctx, input) => ({ Principal: principalOut(await principals.createPrincipal(ctx, input.Arn)) }),
  }),
  defineOperation({
    name: 'ListPrincipals',
    input: z.object({ AccountId: z.string().regex(/^\d{12}$/).optional() }),
    handle: async ({ principals }, ctx, input) => ({ Principals: (await principals.listPrincipals(ctx, input.AccountId)).map(principalOut) }),
  }),
  defineOperation({
    name: 'UpdatePrincipal',
    input: z.object({ Arn: arn, Enabled: z.boolean() }),
    handle: async ({ principals }, ctx, input) => {
      await principals.setPrincipalEnabled(ctx, input.Arn, input.Enabled);
      return {};
    },
  }),
  defineOperation({
    name: 'DeletePrincipal',
    input: z.object({ Arn: arn }),
    handle: async ({ principals }, ctx, input) => {
      await principals.deletePrincipal(ctx, input.Arn);
      return {};
    },
  }),
  defineOperation({
    name: 'CreateAccessKey',
    input: z.object({ PrincipalArn: arn }),
    handle: async ({ principals }, ctx, input) => newKeyOut(await principals.createAccessKey(ctx, input.PrincipalArn)),
  }),
  defineOperation({
    name: 'ListAccessKeys',
    input: z.object({ PrincipalArn: arn }),
    handle: async ({ principals }, ctx, input) => ({ AccessKeys: (await principals.listAccessKeys(ctx, input.PrincipalArn)).map(accessKeyOut) }),
  }),
  defineOperation({
    name: 'UpdateAccessKey',
    input: z.object({ AccessKeyId: accessKeyId, Status: z.enum(['Active', 'Inactive']) }),
    handle: async ({ principals }, ctx, input) => {
      await principals.setAccessKeyStatus(ctx, input.AccessKeyId, input.Status);
      return {};
    },
  }),
  defineOperation({
    name: 'RotateAccessKeySecret',
    input: z.object({ AccessKeyId: accessKeyId }),
    handle: async ({ principals }, ctx, input) => newKeyOut(await principals.rotateSecret(ctx, input.AccessKeyId)),
  }),
  defineOperation({
    name: 'DeleteAccessKey',
    input: z.object({ AccessKeyId: accessKeyId }),
    handle: async ({ principals }, ctx, input) => {
      await principals.deleteAccessKey(ctx, input.AccessKeyId);
      return {};
    },
  }),
  defineOperation({
    name: 'PutPrincipalPolicy',
    input: z.object({ PrincipalArn: arn, PolicyName: z.string().min(1).max(128), PolicyDocument: z.string().min(1).max(131072) }),
    handle: async ({ principals }, ctx, input) => {
      await principals.putIdentityPolicy(ctx, input.PrincipalArn, { policyName: input.PolicyName, document: input.PolicyDocument });
      return {};
    },
  }),
  defineOperation({
    name: 'ListPrincipalPolicies',
    input: z.object({ PrincipalArn: arn }),
    handle: async ({ principals }, ctx, input) => ({
      Policies: (await principals.listIdentityPolicies(ctx, input.PrincipalArn)).map((p) => ({ PolicyName: p.policyName, PolicyDocument: p.document })),
    }),
  }),
  defineOperation({
    name: 'DeletePrincipalPolicy',
    input: z.object({ PrincipalArn: arn, PolicyName: z.string().min(1).max(128) }),
    handle: async ({ principals }, ctx, input) => {
      await principals.deleteIdentityPolicy(ctx, input.PrincipalArn, input.PolicyName);
      return {};
    },
  }),
];

export const ADMIN_TARGET_PREFIX = 'HsmKmsAdmin.';

/** The admin operations by X-Amz-Target name. */
export const ADMIN_OPERATIONS: ReadonlyMap<string, Operation> = new Map(all.map((op) => [op.name, op]));
