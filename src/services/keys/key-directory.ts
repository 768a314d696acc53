import { aliasArn, keyArn, parseKeyReference, type ReferenceRules } from '../../domain/arn.js';
import { NotFoundException } from '../../domain/errors.js';
import type { KmsKey, Tag } from '../../domain/key.js';
import type { CallContext } from '../context.js';
import type { Clock, MetadataStore } from '../ports.js';
import { SINGLE_PROCESS, type ChangeFeed } from '../changes.js';

interface Cached<T> {
  readonly value: T;
  readonly expires: number;
}

/**
 * Finds keys by any name a caller may use, with an in-memory cache so that
 * cryptographic calls do not touch the database. Changes made through this
 * process invalidate at once, here and (through the change feed) in the other
 * processes; a change the feed did not carry is seen within the TTL.
 */
export class KeyDirectory {
  private readonly keys = new Map<string, Cached<KmsKey>>();
  private readonly aliases = new Map<string, Cached<string>>();
  /** Only read when a policy's conditions ask for them (aws:ResourceTag, kms:ResourceAliases). */
  private readonly tagsByKey = new Map<string, Cached<Tag[]>>();
  private readonly aliasesByKey = new Map<string, Cached<string[]>>();
  /** Moves on every change, so that a read that began before it does not cache what it read. */
  private generation = 0;

  constructor(
    private readonly store: MetadataStore,
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly changes: ChangeFeed = SINGLE_PROCESS,
  ) {
    changes.subscribe((change) => {
      if (change.kind === 'key') this.dropKey(change.keyId);
      else if (change.kind === 'alias') this.dropAlias(change.accountId, change.aliasName, change.targetKeyIds);
    });
  }

  async get(keyId: string): Promise<KmsKey | undefined> {
    const now = this.clock.now().getTime();
    const hit = this.keys.get(keyId);
    if (hit && hit.expires > now) return hit.value;
    const generation = this.generation;
    const key = await this.store.getKey(keyId);
    if (generation !== this.generation) return key;
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
    const generation = this.generation;
    const alias = await this.store.getAlias(accountId, aliasName);
    if (generation !== this.generation) return alias?.targetKeyId;
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
    const generation = this.generation;
    const value = await load();
    if (generation === this.generation) map.set(keyId, { value, expires: now + this.ttlMs });
    return value;
  }

  /** The key's metadata changed here: forgotten here and in every other process. */
  forgetKey(keyId: string): void {
    this.dropKey(keyId);
    this.changes.publish({ kind: 'key', keyId });
  }

  /** An alias changed: its old and new target keys' alias lists are stale too. */
  forgetAlias(accountId: string, aliasName: string, ...targetKeyIds: string[]): void {
    this.dropAlias(accountId, aliasName, targetKeyIds);
    this.changes.publish({ kind: 'alias', accountId, aliasName, targetKeyIds });
  }

  private dropKey(keyId: string): void {
    this.generation++;
    this.keys.delete(keyId);
    this.tagsByKey.delete(keyId);
  }

  private dropAlias(accountId: string, aliasName: string, targetKeyIds: readonly string[]): void {
    this.generation++;
    this.aliases.delete(`${accountId}/${aliasName}`);
    for (const keyId of targetKeyIds) this.aliasesByKey.delete(keyId);
  }
}
