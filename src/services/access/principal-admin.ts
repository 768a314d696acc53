import { generateAccessKeyId, generateSecretAccessKey } from '../../domain/access-key.js';
import { AccessDeniedException, AlreadyExistsException, NotFoundException, ValidationException } from '../../domain/errors.js';
import { Policy } from '../../domain/policy/policy.js';
import { isRoot, newUniqueId, parsePrincipalArn, rootArn } from '../../domain/principal-arn.js';
import type { AccessKeyStatus, IdentityPolicyDocument, PrincipalStore, StoredAccessKey, StoredPrincipal } from './access-ports.js';
import type { CallContext } from '../context.js';
import type { CredentialSealer } from './credential-sealer.js';
import type { PrincipalDirectory } from './principal-directory.js';
import type { Clock } from '../ports/index.js';

/** At most this many access keys per principal, as IAM allows. */
export const MAX_ACCESS_KEYS = 2;
const IDENTITY_POLICY_NAME = /^[\w+=,.@-]{1,128}$/;

export interface NewAccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly principalArn: string;
}

/**
 * Accounts, principals, access keys and identity policies: the admin CLI's use
 * cases. The operator (the default account's root) manages every account; an
 * account's root manages its own account; nobody else manages anything.
 */
export class PrincipalAdmin {
  constructor(
    private readonly store: PrincipalStore,
    private readonly sealer: CredentialSealer,
    private readonly directory: PrincipalDirectory,
    private readonly clock: Clock,
  ) {}

  /** Makes a new account: its root principal, and an access key for it. */
  async createAccount(ctx: CallContext, accountId: string): Promise<NewAccessKey> {
    if (!ctx.principal.operator) throw denied(ctx, 'CreateAccount', rootArn(accountId));
    if (!/^\d{12}$/.test(accountId)) throw new ValidationException('AccountId must be 12 digits.');
    await this.store.createPrincipal(this.rootPrincipal(accountId));
    return this.createAccessKey(ctx, rootArn(accountId));
  }

  async createPrincipal(ctx: CallContext, arn: string): Promise<StoredPrincipal> {
    const parsed = parsePrincipalArn(arn);
    if (!parsed || parsed.kind === 'root') throw new ValidationException(`${arn} is not a user or role ARN (arn:aws:iam::ACCOUNT:user/NAME or role/NAME).`);
    this.assertManages(ctx, 'CreatePrincipal', arn, parsed.accountId);
    await this.ensureAccount(parsed.accountId);
    const principal: StoredPrincipal = { arn, uniqueId: newUniqueId(parsed.kind, parsed.accountId), ...parsed, enabled: true, creationDate: this.clock.now() };
    await this.store.createPrincipal(principal);
    return principal;
  }

  async listPrincipals(ctx: CallContext, accountId: string | undefined): Promise<StoredPrincipal[]> {
    const account = accountId ?? (ctx.principal.operator ? undefined : ctx.principal.accountId);
    if (account === undefined) return this.store.listPrincipals(undefined);
    this.assertManages(ctx, 'ListPrincipals', rootArn(account), account);
    return this.store.listPrincipals(account);
  }

  async setPrincipalEnabled(ctx: CallContext, arn: string, enabled: boolean): Promise<void> {
    const action = enabled ? 'EnablePrincipal' : 'DisablePrincipal';
    const principal = await this.existing(ctx, action, arn);
    this.refuseOwnRoot(ctx, action, principal);
    await this.store.setPrincipalEnabled(arn, enabled);
    await this.forgetCredentialsOf(arn);
  }

  async deletePrincipal(ctx: CallContext, arn: string): Promise<void> {
    const principal = await this.existing(ctx, 'DeletePrincipal', arn);
    this.refuseOwnRoot(ctx, 'DeletePrincipal', principal);
    const keys = await this.store.listAccessKeys(arn);
    await this.store.deletePrincipal(arn);
    this.directory.forget(keys.map((k) => k.accessKeyId));
  }

  async createAccessKey(ctx: CallContext, principalArn: string): Promise<NewAccessKey> {
    await this.existing(ctx, 'CreateAccessKey', principalArn);
    await this.assertRoomForAccessKey(principalArn);
    const accessKeyId = generateAccessKeyId();
    const secretAccessKey = generateSecretAccessKey();
    const sealedSecret = await this.sealer.seal(accessKeyId, secretAccessKey);
    await this.store.createAccessKey({ accessKeyId, principalArn, sealedSecret, status: 'Active', creationDate: this.clock.now() });
    return { accessKeyId, secretAccessKey, principalArn };
  }

  /**
   * An access key with a given id and secret (the seed file's, so that local
   * configurations can name it), made or given that secret; the operator's alone.
   * Says whether anything changed.
   */
  async putFixedAccessKey(ctx: CallContext, principalArn: string, accessKeyId: string, secretAccessKey: string): Promise<'created' | 'changed' | 'unchanged'> {
    if (!ctx.principal.operator) throw denied(ctx, 'PutFixedAccessKey', principalArn);
    await this.existing(ctx, 'PutFixedAccessKey', principalArn);
    const current = await this.store.getAccessKey(accessKeyId);
    if (current && current.principalArn !== principalArn) throw new AlreadyExistsException(`Access key ${accessKeyId} belongs to another principal.`);
    if (current && (await this.sealer.open(accessKeyId, current.sealedSecret)) === secretAccessKey) return 'unchanged';
    const sealedSecret = await this.sealer.seal(accessKeyId, secretAccessKey);
    if (current) {
      await this.store.replaceSecret(accessKeyId, sealedSecret);
      this.directory.forget([accessKeyId]);
      return 'changed';
    }
    await this.assertRoomForAccessKey(principalArn);
    await this.store.createAccessKey({ accessKeyId, principalArn, sealedSecret, status: 'Active', creationDate: this.clock.now() });
    return 'created';
  }

  async listAccessKeys(ctx: CallContext, principalArn: string): Promise<StoredAccessKey[]> {
    await this.existing(ctx, 'ListAccessKeys', principalArn);
    return this.store.listAccessKeys(principalArn);
  }

  async setAccessKeyStatus(ctx: CallContext, accessKeyId: string, status: AccessKeyStatus): Promise<void> {
    await this.accessKey(ctx, 'UpdateAccessKey', accessKeyId);
    await this.store.setAccessKeyStatus(accessKeyId, status);
    this.directory.forget([accessKeyId]);
  }

  /** A new secret for the same access key id; the old secret stops working at once on this instance. */
  async rotateSecret(ctx: CallContext, accessKeyId: string): Promise<NewAccessKey> {
    const key = await this.accessKey(ctx, 'RotateAccessKeySecret', accessKeyId);
    const secretAccessKey = generateSecretAccessKey();
    await this.store.replaceSecret(accessKeyId, await this.sealer.seal(accessKeyId, secretAccessKey));
    this.directory.forget([accessKeyId]);
    return { accessKeyId, secretAccessKey, principalArn: key.principalArn };
  }

  async deleteAccessKey(ctx: CallContext, accessKeyId: string): Promise<void> {
    await this.accessKey(ctx, 'DeleteAccessKey', accessKeyId);
    await this.store.deleteAccessKey(accessKeyId);
    this.directory.forget([accessKeyId]);
  }

  async putIdentityPolicy(ctx: CallContext, principalArn: string, policy: IdentityPolicyDocument): Promise<void> {
    await this.existing(ctx, 'PutPrincipalPolicy', principalArn);
    if (!IDENTITY_POLICY_NAME.test(policy.policyName)) throw new ValidationException('PolicyName must be 1-128 characters of letters, digits and +=,.@_-.');
    Policy.parse(policy.document, 'identity', 'new');
    await this.store.putIdentityPolicy(principalArn, policy);
    await this.forgetCredentialsOf(principalArn);
  }

  async deleteIdentityPolicy(ctx: CallContext, principalArn: string, policyName: string): Promise<void> {
    await this.existing(ctx, 'DeletePrincipalPolicy', principalArn);
    if (!(await this.store.deleteIdentityPolicy(principalArn, policyName))) throw new NotFoundException(`${principalArn} has no policy ${policyName}.`);
    await this.forgetCredentialsOf(principalArn);
  }

  async listIdentityPolicies(ctx: CallContext, principalArn: string): Promise<IdentityPolicyDocument[]> {
    await this.existing(ctx, 'ListPrincipalPolicies', principalArn);
    return this.store.listIdentityPolicies(principalArn);
  }

  private async assertRoomForAccessKey(principalArn: string): Promise<void> {
    if ((await this.store.listAccessKeys(principalArn)).length >= MAX_ACCESS_KEYS) {
      throw new ValidationException(`${principalArn} already has ${MAX_ACCESS_KEYS} access keys; delete one first.`);
    }
  }

  /** A principal's state or policies changed: its access keys are read afresh on their next request. */
  private async forgetCredentialsOf(arn: string): Promise<void> {
    this.directory.forget((await this.store.listAccessKeys(arn)).map((k) => k.accessKeyId));
  }

  /** The operator's own account has its root row from the start, so users can be made in it at once. */
  private async ensureAccount(accountId: string): Promise<void> {
    if (await this.store.getPrincipal(rootArn(accountId))) return;
    await this.store
      .createPrincipal(this.rootPrincipal(accountId))
      .catch(() => undefined); // made meanwhile by another request
  }

  private rootPrincipal(accountId: string): StoredPrincipal {
    return { arn: rootArn(accountId), uniqueId: newUniqueId('root', accountId), accountId, kind: 'root', name: 'root', enabled: true, creationDate: this.clock.now() };
  }

  private assertManages(ctx: CallContext, action: string, resource: string, accountId: string): void {
    const p = ctx.principal;
    if (p.operator || (isRoot(p) && p.accountId === accountId)) return;
    throw denied(ctx, action, resource);
  }

  private async existing(ctx: CallContext, action: string, arn: string): Promise<StoredPrincipal> {
    const accountId = parsePrincipalArn(arn)?.accountId;
    if (accountId === undefined) throw new ValidationException(`${arn} is not a principal ARN.`);
    this.assertManages(ctx, action, arn, accountId);
    const principal = await this.store.getPrincipal(arn);
    if (!principal) throw new NotFoundException(`Principal ${arn} does not exist.`);
    return principal;
  }

  /**
   * An access key its caller may manage. Who may manage any is decided before the
   * key is looked up, and another account's key answers as one that does not
   * exist: no answer tells a caller whether an access key id is in use.
   */
  private async accessKey(ctx: CallContext, action: string, accessKeyId: string): Promise<StoredAccessKey> {
    const p = ctx.principal;
    if (!p.operator && !isRoot(p)) throw denied(ctx, action, accessKeyId);
    const key = await this.store.getAccessKey(accessKeyId);
    const principalAccount = key && parsePrincipalArn(key.principalArn)?.accountId;
    if (!key || (!p.operator && principalAccount !== p.accountId)) throw new NotFoundException(`Access key ${accessKeyId} does not exist.`);
    await this.existing(ctx, action, key.principalArn);
    return key;
  }

  /** A root cannot disable or delete itself: its account would be left without anyone to manage it. */
  private refuseOwnRoot(ctx: CallContext, action: string, principal: StoredPrincipal): void {
    if (principal.kind === 'root' && !ctx.principal.operator) throw denied(ctx, action, principal.arn);
  }
}

function denied(ctx: CallContext, action: string, resource: string): AccessDeniedException {
  return new AccessDeniedException(`User: ${ctx.principal.arn} is not authorized to perform: hsm-kms:${action} on resource: ${resource} because only the account's root or the service operator manages principals`);
}
