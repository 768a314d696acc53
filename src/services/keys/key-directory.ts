import { aliasArn, keyArn, parseKeyReference, type ReferenceRules } from '../../domain/arn.js';
import { NotFoundException } from '../../domain/errors.js';
import type { KmsKey, Tag } from '../../domain/key.js';
import type { CallContext } from '../context.js';
import type { Clock, MetadataStore } from '../ports.js';

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
  /** Only read when a policy's conditions ask for them (aws:ResourceTag, kms:ResourceAliases). */
  private readonly tagsByKey = new Map<string, Cached<Tag[]>>();
  private readonly aliasesByKey = new Map<string, Cached<string[]>>();

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

  /** Resolves a KeyId parameter to a key of the account it names (the caller's unless an ARN says otherwise), or NotFoundException. */
  async resolve(ctx: CallContext, input: string, rules: ReferenceRules): Promise<KmsKey> {
    const ref = parseKeyReference(input, ctx.scope, rules);
    const keyId = ref.kind === 'keyId' ? ref.keyId : await this.aliasTarget(ref.accountId, ref.aliasName);
    const key = keyId === undefined ? undefined : await this.get(keyId);
    if (!key || key.accountId !== ref.accountId) {
      const scope = { region: ctx.scope.region, accountId: ref.accountId };
      throw new NotFoundException(ref.kind === 'alias' ? `Alias ${aliasArn(scope, ref.aliasName)} is not found.` : `Key '${keyArn(scope, ref.keyId)}' does not exist`);
    }
    return key;
  }

  private async aliasTarget(accountId: string, aliasName: string): Promise<string | undefined> {
    const cacheKey = `${accountId}/${aliasName}`;
    const now = this.clock.now().getTime();
    const hit = this.aliases.get(cacheKey);
    if (hit && hit.expires > now) return hit.value;
    const alias = await this.store.getAlias(accountId, aliasName);
    if (alias) this.aliases.set(cacheKey, { value: alias.targetKeyId, expires: now + this.ttlMs });
    else this.aliases.delete(cacheKey);
    return alias?.targetKeyId;
  }

  tagsOf(keyId: string): Promise<Tag[]> {
    return this.cached(this.tagsByKey, keyId, () => this.store.listTags(keyId));
  }

  async aliasNamesOf(key: KmsKey): Promise<string[]> {
    return this.cached(this.aliasesByKey, key.keyId, async () => {
      const names: string[] = [];
      let after: string | undefined;
      do {
        const page = await this.store.listAliases(key.accountId, key.keyId, after, 100);
        names.push(...page.items.map((a) => a.aliasName));
        after = page.next;
      } while (after !== undefined);
      return names;
    });
  }

  private async cached<T>(map: Map<string, Cached<T>>, keyId: string, load: () => Promise<T>): Promise<T> {
    const now = this.clock.now().getTime();
    const hit = map.get(keyId);
    if (hit && hit.expires > now) return hit.value;
    const value = await load();
    map.set(keyId, { value, expires: now + this.ttlMs });
    return value;
  }

  forgetKey(keyId: string): void {
    this.keys.delete(keyId);
    this.tagsByKey.delete(keyId);
  }

  /** An alias changed: its old and new target keys' alias lists are stale too. */
  forgetAlias(accountId: string, aliasName: string, ...targetKeyIds: string[]): void {
    this.aliases.delete(`${accountId}/${aliasName}`);
    for (const keyId of targetKeyIds) this.aliasesByKey.delete(keyId);
  }
}
