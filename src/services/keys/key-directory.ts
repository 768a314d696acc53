import { aliasArn, keyArn, parseKeyReference, type ReferenceRules, type Scope } from '../../domain/arn.js';
import { NotFoundException } from '../../domain/errors.js';
import { storeKeyId, type KmsKey, type Tag } from '../../domain/key.js';
import type { CallContext } from '../context.js';
import type { AliasStore, Clock, KeyStore, TagStore } from '../ports/index.js';
import { SINGLE_PROCESS, type ChangeFeed } from '../changes.js';
import { BoundedCache } from '../bounded-cache.js';

/**
 * Finds keys by any name a caller may use, with an in-memory cache so that
 * cryptographic calls do not touch the database. Changes made through this
 * process invalidate at once, here and (through the change feed) in the other
 * processes; a change the feed did not carry is seen within the TTL.
 */
export class KeyDirectory {
  private readonly keys: BoundedCache<KmsKey | undefined>;
  private readonly aliases: BoundedCache<string | undefined>;
  /** Only read when a policy's conditions ask for them (aws:ResourceTag, kms:ResourceAliases). */
  private readonly tagsByKey: BoundedCache<Tag[]>;
  private readonly aliasesByKey: BoundedCache<string[]>;

  constructor(
    private readonly store: AliasStore & KeyStore & TagStore,
    clock: Clock,
    ttlMs: number,
    private readonly changes: ChangeFeed = SINGLE_PROCESS,
  ) {
    this.keys = new BoundedCache('keys', clock, ttlMs);
    this.aliases = new BoundedCache('aliases', clock, ttlMs);
    this.tagsByKey = new BoundedCache('key-tags', clock, ttlMs);
    this.aliasesByKey = new BoundedCache('key-aliases', clock, ttlMs);
    changes.subscribe((change) => {
      if (change.kind === 'key') this.dropKey(change.keyId);
      else if (change.kind === 'alias') this.dropAlias({ accountId: change.accountId, region: change.region }, change.aliasName, change.targetKeyIds);
    });
  }

  /** The caches, for their hit rates. */
  get caches(): Array<BoundedCache<unknown>> {
    return [this.keys, this.aliases, this.tagsByKey, this.aliasesByKey] as Array<BoundedCache<unknown>>;
  }

  get(keyId: string): Promise<KmsKey | undefined> {
    // A key not (or no longer) there is not remembered: it may be made at any moment.
    return this.keys.get(keyId, '', () => this.store.getKey(keyId), (key) => key !== undefined);
  }

  /** Resolves a KeyId parameter to a key of the account it names (the caller's unless an ARN says otherwise), or NotFoundException. */
  async resolve(ctx: CallContext, input: string, rules: ReferenceRules): Promise<KmsKey> {
    const ref = parseKeyReference(input, ctx.scope, rules);
    // A multi-Region key's KeyId names its key in the caller's region.
    const keyId = ref.kind === 'keyId' ? storeKeyId(ref.keyId, ctx.scope.region) : await this.aliasTarget({ accountId: ref.accountId, region: ctx.scope.region }, ref.aliasName);
    const key = keyId === undefined ? undefined : await this.get(keyId);
    // Each region's keys are apart, as in AWS: a key of another region is not found here.
    if (!key || key.accountId !== ref.accountId || key.region !== ctx.scope.region) {
      const scope = { region: ctx.scope.region, accountId: ref.accountId };
      throw new NotFoundException(ref.kind === 'alias' ? `Alias ${aliasArn(scope, ref.aliasName)} is not found.` : `Key '${keyArn(scope, ref.keyId)}' does not exist`);
    }
    return key;
  }

  private async aliasTarget(scope: Scope, aliasName: string): Promise<string | undefined> {
    return this.aliases.get(aliasCacheKey(scope, aliasName), '', async () => (await this.store.getAlias(scope, aliasName))?.targetKeyId, (target) => target !== undefined);
  }

  tagsOf(keyId: string): Promise<Tag[]> {
    return this.tagsByKey.get(keyId, '', () => this.store.listTags(keyId));
  }

  aliasNamesOf(key: KmsKey): Promise<string[]> {
    return this.aliasesByKey.get(key.keyId, '', async () => {
      const names: string[] = [];
      let after: string | undefined;
      do {
        const page = await this.store.listAliases({ accountId: key.accountId, region: key.region }, key.keyId, after, 100);
        names.push(...page.items.map((a) => a.aliasName));
        after = page.next;
      } while (after !== undefined);
      return names;
    });
  }

  /** The key's metadata changed here: forgotten here and in every other process. */
  forgetKey(keyId: string): void {
    this.dropKey(keyId);
    this.changes.publish({ kind: 'key', keyId });
  }

  /** An alias changed: its old and new target keys' alias lists are stale too. */
  forgetAlias(scope: Scope, aliasName: string, ...targetKeyIds: string[]): void {
    this.dropAlias(scope, aliasName, targetKeyIds);
    this.changes.publish({ kind: 'alias', accountId: scope.accountId, region: scope.region, aliasName, targetKeyIds });
  }

  private dropKey(keyId: string): void {
    this.keys.drop(keyId);
    this.tagsByKey.drop(keyId);
    this.aliasesByKey.drop(keyId);
  }

  private dropAlias(scope: Scope, aliasName: string, targetKeyIds: readonly string[]): void {
    this.aliases.drop(aliasCacheKey(scope, aliasName));
    for (const keyId of targetKeyIds) this.aliasesByKey.drop(keyId);
  }
}

const aliasCacheKey = (scope: Scope, aliasName: string) => `${scope.accountId}/${scope.region}/${aliasName}`;
