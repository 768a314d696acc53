import { decodeGrantToken, type Grant } from '../../domain/grant.js';
import type { GrantStore } from './access-ports.js';
import type { Clock } from '../ports/index.js';
import { SINGLE_PROCESS, type ChangeFeed } from '../changes.js';
import { BoundedCache } from '../bounded-cache.js';

/**
 * The grants of each key to each grantee, cached like key metadata: a grant made
 * or retired in this process counts at once, here and (through the change feed)
 * in the other processes; a change the feed did not carry counts within the TTL,
 * or at once when its grant token is passed. Only a caller's own grants are ever
 * loaded, so a key with thousands of grants costs a caller no more than its own.
 */
export class GrantDirectory {
  /** By key (the group dropped when its grants change), then by grantee. */
  readonly cache: BoundedCache<Grant[]>;

  constructor(
    private readonly store: GrantStore,
    clock: Clock,
    ttlMs: number,
    private readonly changes: ChangeFeed = SINGLE_PROCESS,
  ) {
    this.cache = new BoundedCache('grants', clock, ttlMs);
    changes.subscribe((change) => {
      if (change.kind === 'grants') this.cache.drop(change.keyId);
    });
  }

  grantsFor(keyId: string, granteePrincipal: string): Promise<Grant[]> {
    return this.cache.get(keyId, granteePrincipal, () => this.store.grantsOfGrantee(keyId, granteePrincipal));
  }

  /** The grants named by grant tokens (InvalidGrantTokenException for a malformed one); retired grants are simply absent. */
  async byTokens(tokens: readonly string[]): Promise<Grant[]> {
    const ids = tokens.map(decodeGrantToken);
    const found = await Promise.all(ids.map((id) => this.store.getGrant(id)));
    return found.filter((g): g is Grant => g !== undefined);
  }

  /** The key's grants changed here: forgotten here and in every other process. */
  forget(keyId: string): void {
    this.cache.drop(keyId);
    this.changes.publish({ kind: 'grants', keyId });
  }
}
