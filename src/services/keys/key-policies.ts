import { NotFoundException, MalformedPolicyDocumentException } from '../../domain/errors.js';
import type { KmsKey } from '../../domain/key.js';
import { Policy } from '../../domain/policy/policy.js';
import type { PrincipalStore } from '../access/access-ports.js';
import type { Authorizer } from '../access/authorizer.js';
import type { CallContext } from '../context.js';
import type { KeyDirectory } from './key-directory.js';
import type { MetadataStore } from '../ports.js';

/** KMS keys have one key policy, and AWS names it "default". */
export const POLICY_NAME = 'default';

/** GetKeyPolicy, PutKeyPolicy, ListKeyPolicies, and the checks every new key policy passes. */
export class KeyPolicies {
  constructor(
    private readonly store: MetadataStore,
    private readonly principals: PrincipalStore,
    private readonly keys: KeyDirectory,
    private readonly access: Authorizer,
  ) {}

  async getKeyPolicy(ctx: CallContext, keyId: string, policyName: string): Promise<string> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'GetKeyPolicy' });
    assertPolicyName(policyName);
    return key.policy;
  }

  async listKeyPolicies(ctx: CallContext, keyId: string): Promise<string[]> {
    await this.access.useKey(ctx, keyId, false, { action: 'ListKeyPolicies' });
    return [POLICY_NAME];
  }

  async putKeyPolicy(ctx: CallContext, keyId: string, policyName: string, document: string, bypassLockoutCheck: boolean): Promise<void> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'PutKeyPolicy', extra: new Map([['kms:bypasspolicylockoutsafetycheck', [String(bypassLockoutCheck)]]]) });
    assertPolicyName(policyName);
    await this.checkNewPolicy(ctx, key, document, bypassLockoutCheck);
    if (!(await this.store.updateKeyPolicy(key.keyId, document))) throw new NotFoundException(`Key '${key.arn}' does not exist`);
    this.keys.forgetKey(key.keyId);
  }

  /**
   * A new key policy must be well formed, name only principals that exist, and
   * (unless the caller bypasses the lockout safety check) still let the caller
   * put the key policy.
   */
  async checkNewPolicy(ctx: CallContext, key: KmsKey, document: string, bypassLockoutCheck: boolean): Promise<void> {
    const policy = Policy.parse(document, 'key', 'new');
    for (const arn of policy.namedPrincipals) {
      if (arn.startsWith('arn:aws:iam::') && !(await this.principals.getPrincipal(arn))) {
        throw new MalformedPolicyDocumentException('Policy contains a statement with one or more invalid principals.');
      }
    }
    if (!bypassLockoutCheck) await this.access.assertPolicyKeepsCaller(ctx, key, policy);
  }
}

function assertPolicyName(name: string): void {
  if (name !== POLICY_NAME) throw new NotFoundException(`No such policy exists: ${name}; a key's only policy is named ${POLICY_NAME}.`);
}
