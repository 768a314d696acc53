import { isRoot } from '../principal-arn.js';
import type { PolicyPrincipal, PolicyVerdict } from './policy.js';

/** Why a request was refused; each reason has AWS's wording in its AccessDeniedException. */
export type DenialReason = 'explicit-deny-resource' | 'explicit-deny-identity' | 'no-resource-policy' | 'no-identity-policy';

export type PolicyDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: DenialReason; /** false after an explicit deny, which no grant overrides */ readonly grantsMayAllow: boolean };

const ALLOWED: PolicyDecision = { allowed: true };

export interface DecisionInput {
  readonly principal: PolicyPrincipal;
  /** The account owning the key; undefined for operations on no key (CreateKey, ListKeys, ...), which IAM alone decides. */
  readonly keyAccountId: string | undefined;
  /** The key policy's verdict; undefined for operations on no key. */
  readonly keyPolicy: PolicyVerdict | undefined;
  /** The principal's identity policies, combined. */
  readonly identity: PolicyVerdict;
}

/**
 * AWS's evaluation for KMS ("Determining access to AWS KMS keys"): an explicit
 * deny anywhere refuses. Within the key's account, the key policy allowing the
 * principal is enough, and a key policy allowing the account delegates to the
 * principal's identity policies. Another account's principal needs both the key
 * policy (naming it or its account) and its own identity policies. An account
 * root has every identity permission in its own account; only a key policy can
 * keep it out. Grants are looked at last (by the caller) and only add allows.
 */
export function decide(input: DecisionInput): PolicyDecision {
  const { principal, keyPolicy, identity } = input;
  if (keyPolicy?.deny) return { allowed: false, reason: 'explicit-deny-resource', grantsMayAllow: false };
  if (identity.deny) return { allowed: false, reason: 'explicit-deny-identity', grantsMayAllow: false };
  const iamAllows = isRoot(principal) || identity.allow;
  if (!keyPolicy) return iamAllows ? ALLOWED : { allowed: false, reason: 'no-identity-policy', grantsMayAllow: false };

  if (input.keyAccountId === principal.accountId) {
    if (keyPolicy.allow || (keyPolicy.delegatedAllow && iamAllows)) return ALLOWED;
    return { allowed: false, reason: keyPolicy.delegatedAllow ? 'no-identity-policy' : 'no-resource-policy', grantsMayAllow: true };
  }
  const keyPolicyAllows = keyPolicy.allow || keyPolicy.delegatedAllow;
  if (keyPolicyAllows && iamAllows) return ALLOWED;
  return { allowed: false, reason: keyPolicyAllows ? 'no-identity-policy' : 'no-resource-policy', grantsMayAllow: true };
}

/** AWS's AccessDeniedException message for each reason. */
export function denialMessage(principalArn: string, action: string, resource: string, reason: DenialReason): string {
  const head = `User: ${principalArn} is not authorized to perform: ${action} on resource: ${resource}`;
  switch (reason) {
    case 'explicit-deny-resource':
      return `${head} with an explicit deny in a resource-based policy`;
    case 'explicit-deny-identity':
      return `${head} with an explicit deny in an identity-based policy`;
    case 'no-resource-policy':
      return `${head} because no resource-based policy allows the ${action} action`;
    case 'no-identity-policy':
      return `${head} because no identity-based policy allows the ${action} action`;
  }
}

/** Several identity policies act as one: any deny wins, any allow allows. */
export function combineVerdicts(verdicts: readonly PolicyVerdict[]): PolicyVerdict {
  let allow = false;
  for (const v of verdicts) {
    if (v.deny) return v;
    allow ||= v.allow;
  }
  return { deny: false, allow, delegatedAllow: false };
}
