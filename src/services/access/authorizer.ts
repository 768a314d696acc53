import type { ReferenceRules } from '../../domain/arn.js';
import type { EncryptionContext } from '../../domain/encryption-context.js';
import { AccessDeniedException, KMSInternalException, MalformedPolicyDocumentException } from '../../domain/errors.js';
import { decodeGrantToken, grantPermits, type Grant } from '../../domain/grant.js';
import type { KmsKey, Tag } from '../../domain/key.js';
import type { ConditionValues } from '../../domain/policy/conditions.js';
import { combineVerdicts, decide, denialMessage, type PolicyDecision } from '../../domain/policy/decision.js';
import { Policy, type PolicyVerdict, type PrincipalBindings } from '../../domain/policy/policy.js';
import { quotaOf } from '../../domain/quotas.js';
import { requestAliasOf, requestConditions } from '../../domain/policy/request-conditions.js';
import type { CallContext } from '../context.js';
import type { GrantDirectory } from './grant-directory.js';
import type { KeyDirectory } from '../keys/key-directory.js';
import type { Clock } from '../ports/index.js';
import type { RequestQuotas } from './request-quotas.js';

/** The KMS operations AWS lets a principal of another account call on a key (each operation's "Cross-account use: Yes"). */
const CROSS_ACCOUNT_ACTIONS: ReadonlySet<string> = new Set([
  'CreateGrant', 'Decrypt', 'DeriveSharedSecret', 'DescribeKey', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'GetKeyRotationStatus',
  'GetPublicKey', 'ListGrants', 'ReEncryptFrom', 'ReEncryptTo', 'RetireGrant', 'RevokeGrant', 'Sign', 'Verify', 'VerifyMac',
]);

/** One action on one key, with what its conditions may test. */
export interface KeyAccess {
  /** The KMS action without its prefix: Encrypt, ReEncryptFrom, PutKeyPolicy, ... */
  readonly action: string;
  /** The KeyId parameter as the caller gave it (for kms:RequestAlias). */
  readonly keyRef?: string;
  readonly encryptionContext?: EncryptionContext;
  readonly encryptionAlgorithm?: string;
  /** Operation-specific condition keys, normalised. */
  readonly extra?: ConditionValues;
  /** Narrows which grants may allow the action (CreateGrant through a grant may only hand on what it has). */
  readonly grantFilter?: (grant: Grant) => boolean;
}

const EMPTY: ConditionValues = new Map();

/**
 * The one place that decides who may do what: the key policy, the caller's
 * identity policies and the key's grants, as AWS KMS combines them. Policies are
 * parsed once and cached; grants come from an in-memory cache; nothing here goes
 * to the database on the hot path.
 */
export class Authorizer {
  private readonly keyPolicies = new Map<string, { source: string; principals: PrincipalBindings; policy: Policy }>();

  constructor(
    private readonly keys: KeyDirectory,
    private readonly grants: GrantDirectory,
    private readonly quotas: RequestQuotas,
    private readonly clock: Clock,
  ) {}

  /** Resolves a KeyId parameter by the action's cross-account rule, without authorizing (see authorize). */
  resolve(ctx: CallContext, action: string, keyRef: string, allowAlias: boolean): Promise<KmsKey> {
    const rules: ReferenceRules = { allowAlias, crossAccount: CROSS_ACCOUNT_ACTIONS.has(action) };
    return this.keys.resolve(ctx, keyRef, rules);
  }

  /** Resolves a KeyId parameter and authorizes the action on the key: the door of every key operation. */
  async useKey(ctx: CallContext, keyRef: string, allowAlias: boolean, access: KeyAccess): Promise<KmsKey> {
    const key = await this.resolve(ctx, access.action, keyRef, allowAlias);
    await this.authorize(ctx, key, { ...access, keyRef });
    return key;
  }

  /**
   * Throws AccessDeniedException unless the caller may perform the action on the
   * key. The call's audit record learns the key and what allowed the call.
   */
  async authorize(ctx: CallContext, key: KmsKey, access: KeyAccess): Promise<void> {
    ctx.record.addKey(key);
    this.quotas.charge(ctx, quotaOf(access.action, key.keySpec, access.extra?.get('kms:datakeypairspec')?.[0]));
    for (const token of ctx.request.grantTokens) decodeGrantToken(token); // a malformed token is refused even when unneeded
    const keyPolicy = this.keyPolicy(key);
    const decision = await this.decideWith(ctx, key, keyPolicy, access);
    if (decision.allowed) {
      ctx.record.authorizedBy = decision.byKeyPolicy ? 'key-policy' : 'identity-policy';
      return;
    }
    const grant = decision.grantsMayAllow ? await this.allowingGrant(ctx, key, access) : undefined;
    if (grant) {
      ctx.record.authorizedBy = 'grant';
      ctx.record.grantId = grant.grantId;
      return;
    }
    throw new AccessDeniedException(denialMessage(ctx.principal.arn, `kms:${access.action}`, key.arn, decision.reason));
  }

  /**
   * Operations on no key (CreateKey, ListKeys, ListAliases, GenerateRandom,
   * ListRetirableGrants) and alias resources: the caller's identity policies decide.
   */
  async authorizeWithoutKey(ctx: CallContext, action: string, resource = '*', extra: ConditionValues = EMPTY): Promise<void> {
    if (resource !== '*') ctx.record.addResource(resource, ctx.scope.accountId);
    this.quotas.charge(ctx, quotaOf(action, undefined));
    const policies = ctx.principal.identityPolicies;
    const conditions = policies.some((p) => p.conditionKeys.size > 0) ? this.conditions(ctx, undefined, { action, extra }) : EMPTY;
    const request = { action: `kms:${action}`, resource, principal: ctx.principal, conditions };
    const decision = decide({ principal: ctx.principal, keyAccountId: undefined, keyPolicy: undefined, identity: combineVerdicts(policies.map((p) => p.evaluate(request))) });
    if (!decision.allowed) throw new AccessDeniedException(denialMessage(ctx.principal.arn, `kms:${action}`, resource, decision.reason));
    ctx.record.authorizedBy ??= 'identity-policy';
  }

  /**
   * The lockout safety check of PutKeyPolicy and CreateKey: the new policy must
   * let the caller put the key policy again (grants do not count).
   */
  async assertPolicyKeepsCaller(ctx: CallContext, key: KmsKey, policy: Policy): Promise<void> {
    const decision = await this.decideWith(ctx, key, policy, { action: 'PutKeyPolicy' });
    if (!decision.allowed) throw new MalformedPolicyDocumentException('The new key policy will not allow you to update the key policy in the future.');
  }

  /** AWS's decision, and whether the key policy alone allowed it (for the audit record). */
  private async decideWith(ctx: CallContext, key: KmsKey, keyPolicy: Policy, access: KeyAccess): Promise<PolicyDecision & { byKeyPolicy?: boolean }> {
    const identityPolicies = ctx.principal.identityPolicies;
    const needed = keyPolicy.conditionKeys.size > 0 || identityPolicies.some((p) => p.conditionKeys.size > 0);
    const conditions = needed ? await this.keyConditions(ctx, key, access, [keyPolicy, ...identityPolicies]) : EMPTY;
    const request = { action: `kms:${access.action}`, resource: key.arn, principal: ctx.principal, conditions };
    // Identity policies only speak for their own account's principal; evaluated only when they can matter.
    const identity: PolicyVerdict = combineVerdicts(identityPolicies.map((p) => p.evaluate(request)));
    const keyVerdict = keyPolicy.evaluate(request);
    const decision = decide({ principal: ctx.principal, keyAccountId: key.accountId, keyPolicy: keyVerdict, identity });
    return decision.allowed && keyVerdict.allow && key.accountId === ctx.principal.accountId ? { ...decision, byKeyPolicy: true } : decision;
  }

  private async keyConditions(ctx: CallContext, key: KmsKey, access: KeyAccess, policies: readonly Policy[]): Promise<ConditionValues> {
    const resourceTags = policies.some((p) => p.readsResourceTags) ? await this.keys.tagsOf(key.keyId) : undefined;
    const resourceAliases = policies.some((p) => p.readsResourceAliases) ? await this.keys.aliasNamesOf(key) : undefined;
    return this.conditions(ctx, key, access, resourceTags, resourceAliases);
  }

  private conditions(ctx: CallContext, key: KmsKey | undefined, access: KeyAccess, resourceTags?: readonly Tag[], resourceAliases?: readonly string[]): ConditionValues {
    return requestConditions({
      principalArn: ctx.principal.arn,
      principalAccount: ctx.principal.accountId,
      principalUniqueId: ctx.principal.uniqueId,
      region: ctx.scope.region,
      now: this.clock.now(),
      sourceIp: ctx.request.sourceIp,
      secureTransport: ctx.request.secureTransport,
      key,
      requestAlias: requestAliasOf(access.keyRef),
      encryptionContext: access.encryptionContext,
      encryptionAlgorithm: access.encryptionAlgorithm,
      resourceTags,
      resourceAliases,
      extra: access.extra,
    });
  }

  /** The grant that allows the action, if any. */
  private async allowingGrant(ctx: CallContext, key: KmsKey, access: KeyAccess): Promise<Grant | undefined> {
    const permits = (g: Grant) =>
      g.keyId === key.keyId &&
      g.granteePrincipal === ctx.principal.arn &&
      // The principal the grant was made to, never a namesake made since.
      g.granteeId === ctx.principal.uniqueId &&
      grantPermits(g, access.action, access.encryptionContext) &&
      (access.grantFilter?.(g) ?? true);
    const cached = (await this.grants.grantsFor(key.keyId, ctx.principal.arn)).find(permits);
    if (cached) return cached;
    // A grant made on another instance moments ago: its token lets it count at once.
    const tokens = ctx.request.grantTokens;
    return tokens.length > 0 ? (await this.grants.byTokens(tokens)).find(permits) : undefined;
  }

  private keyPolicy(key: KmsKey): Policy {
    const hit = this.keyPolicies.get(key.keyId);
    if (hit && hit.source === key.policy && hit.principals === key.policyPrincipals) return hit.policy;
    let policy: Policy;
    try {
      policy = Policy.parse(key.policy, 'key', 'stored', key.policyPrincipals);
    } catch (e) {
      // Every stored policy was validated when it was put: this one was altered outside the service.
      const error = new KMSInternalException(`The key policy of ${key.arn} cannot be read.`);
      error.detail = (e as Error).message;
      throw error;
    }
    this.keyPolicies.set(key.keyId, { source: key.policy, principals: key.policyPrincipals, policy });
    return policy;
  }
}
