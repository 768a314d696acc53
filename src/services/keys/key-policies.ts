import { NotFoundException, MalformedPolicyDocumentException } from '../../domain/errors.js';
import type { KmsKey } from '../../domain/key.js';
import { Policy, renamePrincipals } from '../../domain/policy/policy.js';
import type { PrincipalStore } from '../access/access-ports.js';
import { bindPrincipals, displayedPrincipal, NO_PRINCIPAL } from '../access/principal-bindings.js';
import type { Authorizer } from '../access/authorizer.js';
import type { CallContext } from '../context.js';
import type { KeyDirectory } from './key-directory.js';
import type { KeyStore } from '../ports/index.js';

/** KMS keys have one key policy, and AWS names it "default". */
export const POLICY_NAME = 'default';

/** GetKeyPolicy, PutKeyPolicy, ListKeyPolicies, and the checks every new key policy passes. */
export class KeyPolicies {
  constructor(
    private readonly store: KeyStore,
    private readonly principals: PrincipalStore,
    private readonly keys: KeyDirectory,
    private readonly access: Authorizer,
  ) {}

  async getKeyPolicy(ctx: CallContext, keyId: string, policyName: string): Promise<string> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'GetKeyPolicy' });
    assertPolicyName(policyName);
    return this.displayed(key);
  }

  /** As AWS shows a key policy: a user or role deleted since it was written (or whose ARN a namesake holds) by its unique id. */
  private async displayed(key: KmsKey): Promise<string> {
    const bindings = key.policyPrincipals;
    if (!bindings || Object.keys(bindings).length === 0) return key.policy;
    const current = await this.principals.uniqueIdsOf(Object.keys(bindings));
    const renames = new Map(Object.entries(bindings).flatMap(([arn, id]) => (displayedPrincipal(arn, id, current) === arn ? [] : [[arn, id] as const])));
    return renames.size === 0 ? key.policy : renamePrincipals(key.policy, renames);
  }

  async listKeyPolicies(ctx: CallContext, keyId: string): Promise<string[]> {
    await this.access.useKey(ctx, keyId, false, { action: 'ListKeyPolicies' });
    return [POLICY_NAME];
  }

  async putKeyPolicy(ctx: CallContext, keyId: string, policyName: string, document: string, bypassLockoutCheck: boolean): Promise<void> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'PutKeyPolicy', extra: new Map([['kms:bypasspolicylockoutsafetycheck', [String(bypassLockoutCheck)]]]) });
    assertPolicyName(policyName);
    const principals = await this.checkNewPolicy(ctx, key, document, bypassLockoutCheck);
    if (!(await this.store.updateKeyPolicy(key.keyId, document, principals))) throw new NotFoundException(`Key '${key.arn}' does not exist`);
    this.keys.forgetKey(key.keyId);
  }

  /**
   * A new key policy must be well formed, name only principals that exist, and
   * (unless the caller bypasses the lockout safety check) still let the caller
   * put the key policy. Returns the unique ids its named users and roles have
   * now, which the policy binds to from now on.
   */
  async checkNewPolicy(ctx: CallContext, key: KmsKey, document: string, bypassLockoutCheck: boolean): Promise<Record<string, string>> {
    const parsed = Policy.parse(document, 'key', 'new');
    const { ids, missing } = await bindPrincipals(this.principals, parsed.namedPrincipals);
    if (missing.length > 0) throw new MalformedPolicyDocumentException('Policy contains a statement with one or more invalid principals.');
    if (!bypassLockoutCheck) await this.access.assertPolicyKeepsCaller(ctx, key, parsed.bound(ids));
    return ids;
  }

  /**
   * Binds the key policies written before principals had unique ids to the
   * principals that hold their ARNs now (a user or role already gone binds to no
   * one). Run at start-up, before requests are served.
   */
  async bindUnboundPolicies(): Promise<number> {
    let bound = 0;
    for (;;) {
      const keys = await this.store.listKeysWithUnboundPolicies(100);
      for (const key of keys) {
        const named = Policy.parse(key.policy, 'key').namedPrincipals;
        const { ids, missing } = await bindPrincipals(this.principals, named);
        for (const arn of missing) ids[arn] = NO_PRINCIPAL;
        await this.store.bindKeyPolicyPrincipals(key.keyId, ids);
        bound++;
      }
      if (keys.length < 100) return bound;
    }
  }
}

function assertPolicyName(name: string): void {
  if (name !== POLICY_NAME) throw new NotFoundException(`No such policy exists: ${name}; a key's only policy is named ${POLICY_NAME}.`);
}
