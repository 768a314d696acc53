import { parseKeyReference } from '../domain/arn.js';
import { NotFoundException } from '../domain/errors.js';
import type { KmsKey } from '../domain/key.js';
import type { CallContext } from './context.js';
import type { Clock, MetadataStore } from './ports.js';

interface Cached<T> {
  readonly value: T;
  readonly expires: number;
}

/**
 * Finds keys by any name a caller may use, with an in-memory cache so that
 * cryptographic calls do not touch the database. Changes made through this
 * instance invalidate at once; another instance's are seen within the TTL.
 */
export class KeyDirectory {
  private readonly keys = new Map<string, Cached<KmsKey>>();
  private readonly aliases = new Map<string, Cached<string>>();

  constructor(
    private readonly store: MetadataStore,
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  async get(keyId: string): Promise<KmsKey | undefined> {
    const now = this.clock.now().getTime();
    const hit = this.keys.get(keyId);
    if (hit && hit.expires > now) return hit.value;
    const key = await this.store.getKey(keyId);
    if (key) this.keys.set(keyId, { value: key, expires: now + this.ttlMs });
    else this.keys.delete(keyId);
    return key;
  }

  /** Resolves a KeyId parameter to a key of the caller's account, or NotFoundException. */
  async resolve(ctx: CallContext, input: string, allowAlias: boolean): Promise<KmsKey> {
    const ref = parseKeyReference(input, ctx.scope, allowAlias);
    const keyId = ref.kind === 'keyId' ? ref.keyId : await this.aliasTarget(ctx, ref.aliasName);
    const key = keyId === undefined ? undefined : await this.get(keyId);
    if (!key || key.accountId !== ctx.scope.accountId) {
      throw new NotFoundException(ref.kind === 'alias' ? `Alias ${aliasArnOf(ctx, ref.aliasName)} is not found.` : `Key '${keyArnOf(ctx, input)}' does not exist`);
    }
    return key;
  }

  private async aliasTarget(ctx: CallContext, aliasName: string): Promise<string | undefined> {
    const cacheKey = `${ctx.scope.accountId}/${aliasName}`;
    const now = this.clock.now().getTime();
    const hit = this.aliases.get(cacheKey);
    if (hit && hit.expires > now) return hit.value;
    const alias = await this.store.getAlias(ctx.scope.accountId, aliasName);
    if (alias) this.aliases.set(cacheKey, { value: alias.targetKeyId, expires: now + this.ttlMs });
    else this.aliases.delete(cacheKey);
    return alias?.targetKeyId;
  }

  forgetKey(keyId: string): void {
    this.keys.delete(keyId);
  }

  forgetAlias(accountId: string, aliasName: string): void {
    this.aliases.delete(`${accountId}/${aliasName}`);
  }
}

function keyArnOf(ctx: CallContext, input: string): string {
  return input.startsWith('arn:') ? input : `arn:aws:kms:${ctx.scope.region}:${ctx.scope.accountId}:key/${input}`;
}

function aliasArnOf(ctx: CallContext, aliasName: string): string {
  return `arn:aws:kms:${ctx.scope.region}:${ctx.scope.accountId}:${aliasName}`;
}
