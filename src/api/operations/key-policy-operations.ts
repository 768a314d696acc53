import { z } from 'zod';
import { defineOperation } from '../operation.js';
import { POLICY_NAME } from '../../services/keys/key-policies.js';
import { keyIdParam } from '../schemas.js';

const policyName = z.string().min(1).max(128).regex(/^[\w]+$/, 'Member must satisfy regular expression pattern: [\\w]+');
const policyDocument = z.string().min(1).max(131072);

export const getKeyPolicy = defineOperation({
  name: 'GetKeyPolicy',
  audit: { kind: 'read', request: ['KeyId', 'PolicyName'] },
  input: z.object({ KeyId: keyIdParam, PolicyName: policyName.optional() }),
  async handle({ keyPolicies }, ctx, input) {
    const name = input.PolicyName ?? POLICY_NAME;
    return { Policy: await keyPolicies.getKeyPolicy(ctx, input.KeyId, name), PolicyName: name };
  },
});

export const putKeyPolicy = defineOperation({
  name: 'PutKeyPolicy',
  audit: { kind: 'change', request: ['KeyId', 'PolicyName', 'Policy', 'BypassPolicyLockoutSafetyCheck'] },
  // The document's own limit (32 KiB) is checked with the policy, as MalformedPolicyDocumentException.
  input: z.object({ KeyId: keyIdParam, PolicyName: policyName.optional(), Policy: policyDocument, BypassPolicyLockoutSafetyCheck: z.boolean().optional() }),
  async handle({ keyPolicies }, ctx, input) {
    await keyPolicies.putKeyPolicy(ctx, input.KeyId, input.PolicyName ?? POLICY_NAME, input.Policy, input.BypassPolicyLockoutSafetyCheck ?? false);
    return {};
  },
});

export const listKeyPolicies = defineOperation({
  name: 'ListKeyPolicies',
  audit: { kind: 'read', request: ['KeyId', 'Limit', 'Marker'] },
  input: z.object({ KeyId: keyIdParam, Limit: z.number().int().min(1).max(1000).optional(), Marker: z.string().min(1).max(320).optional() }),
  async handle({ keyPolicies }, ctx, input) {
    return { PolicyNames: await keyPolicies.listKeyPolicies(ctx, input.KeyId), Truncated: false };
  },
});
