import { keyFamily } from '../../domain/key-spec.js';
import { InvalidAliasNameException, ValidationException, NotFoundException } from '../../domain/errors.js';
import type { Alias, KmsKey } from '../../domain/key.js';
import { assertNotPendingDeletion } from '../../domain/key-state-rules.js';
import { aliasArn } from '../../domain/arn.js';
import type { CallContext } from '../context.js';
import type { Authorizer } from '../access/authorizer.js';
import type { KeyDirectory } from './key-directory.js';
import type { AliasStore, Clock, Page } from '../ports/index.js';

export const RESERVED_ALIAS_PREFIX = 'alias/aws/';

function assertCustomerAliasName(aliasName: string): void {
  if (!aliasName.startsWith('alias/') || aliasName.length <= 'alias/'.length) {
    // AWS answers a name without the prefix as a request that fails validation.
    throw new ValidationException(`Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`);
  }
  if (aliasName.startsWith(RESERVED_ALIAS_PREFIX)) {
    throw new InvalidAliasNameException(`Alias names beginning with ${RESERVED_ALIAS_PREFIX} are reserved for AWS managed keys.`);
  }
}

export class AliasService {
  constructor(
    private readonly store: AliasStore,
    private readonly keys: KeyDirectory,
    private readonly access: Authorizer,
    private readonly clock: Clock,
  ) {}

  /** The key an alias of the caller's account names now, if the alias exists (the seed's reconciliation). */
  async targetOf(ctx: CallContext, aliasName: string): Promise<string | undefined> {
    return (await this.store.getAlias(ctx.scope, aliasName))?.targetKeyId;
  }

  async createAlias(ctx: CallContext, aliasName: string, targetKeyId: string): Promise<void> {
    assertCustomerAliasName(aliasName);
    // AWS checks the alias in IAM policies and the key in its key policy.
    await this.access.authorizeWithoutKey(ctx, 'CreateAlias', aliasArn(ctx.scope, aliasName));
    const key = await this.targetKey(ctx, targetKeyId, 'CreateAlias');
    const now = this.clock.now();
    await this.store.createAlias({ accountId: ctx.scope.accountId, region: ctx.scope.region, aliasName, targetKeyId: key.keyId, creationDate: now, lastUpdatedDate: now });
    this.keys.forgetAlias(ctx.scope, aliasName, key.keyId);
  }

  async updateAlias(ctx: CallContext, aliasName: string, targetKeyId: string): Promise<void> {
    assertCustomerAliasName(aliasName);
    await this.access.authorizeWithoutKey(ctx, 'UpdateAlias', aliasArn(ctx.scope, aliasName));
    const alias = await this.existing(ctx, aliasName);
    const current = await this.authorizeOnCurrentKey(ctx, alias, 'UpdateAlias');
    const key = await this.targetKey(ctx, targetKeyId, 'UpdateAlias');
    // An alias keeps naming the same kind of key, so that whatever calls through it keeps working (AWS UpdateAlias).
    if (current && (keyFamily(current.keySpec) !== keyFamily(key.keySpec) || current.keyUsage !== key.keyUsage)) {
      throw new ValidationException(
        `${aliasName} names a ${keyFamily(current.keySpec)} ${current.keyUsage} key; the new target ${key.arn} is a ${keyFamily(key.keySpec)} ${key.keyUsage} key. An alias moves only to a key of the same type and key usage.`,
      );
    }
    await this.store.updateAlias(ctx.scope, aliasName, key.keyId, this.clock.now());
    this.keys.forgetAlias(ctx.scope, aliasName, alias.targetKeyId, key.keyId);
  }

  async deleteAlias(ctx: CallContext, aliasName: string): Promise<void> {
    assertCustomerAliasName(aliasName);
    await this.access.authorizeWithoutKey(ctx, 'DeleteAlias', aliasArn(ctx.scope, aliasName));
    const alias = await this.existing(ctx, aliasName);
    await this.authorizeOnCurrentKey(ctx, alias, 'DeleteAlias');
    await this.store.deleteAlias(ctx.scope, aliasName);
    this.keys.forgetAlias(ctx.scope, aliasName, alias.targetKeyId);
  }

  async listAliases(ctx: CallContext, keyId: string | undefined, after: string | undefined, limit: number): Promise<Page<Alias>> {
    await this.access.authorizeWithoutKey(ctx, 'ListAliases');
    const targetKeyId = keyId === undefined ? undefined : (await this.access.resolve(ctx, 'ListAliases', keyId, false)).keyId;
    return this.store.listAliases(ctx.scope, targetKeyId, after, limit);
  }

  private async authorizeOnCurrentKey(ctx: CallContext, alias: Alias, action: string): Promise<KmsKey | undefined> {
    const key = await this.keys.get(alias.targetKeyId);
    if (key) await this.access.authorize(ctx, key, { action });
    return key;
  }

  private async existing(ctx: CallContext, aliasName: string): Promise<Alias> {
    const alias = await this.store.getAlias(ctx.scope, aliasName);
    if (!alias) throw new NotFoundException(`Alias ${aliasArn(ctx.scope, aliasName)} is not found.`);
    return alias;
  }

  /** Aliases point at a key by id or ARN only, never at another alias. */
  private async targetKey(ctx: CallContext, targetKeyId: string, action: string): Promise<KmsKey> {
    const key = await this.access.useKey(ctx, targetKeyId, false, { action });
    assertNotPendingDeletion(key);
    return key;
  }
}
