import { decodeGrantToken, type Grant } from '../../domain/grant.js';
import type { GrantStore } from './access-ports.js';
import type { Clock } from '../ports.js';
import { SINGLE_PROCESS, type ChangeFeed } from '../changes.js';

/**
 * The grants of each key to each grantee, cached like key metadata: a grant made
 * or retired in this process counts at once, here and (through the change feed)
 * in the other processes; a change the feed did not carry counts within the TTL,
 * or at once when its grant token is passed. Only a caller's own grants are ever
 * loaded, so a key with thousands of grants costs a caller no more than its own.
 */
export class GrantDirectory {
  private readonly byKey = new Map<string, Map<string, { grants: Grant[]; expires: number }>>();
  /** Moves on every change, so that a read that began before it does not cache what it read. */
  private generation = 0;

  constructor(
    private readonly store: GrantStore,
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly changes: ChangeFeed = SINGLE_PROCESS,
  ) {
    changes.subscribe((change) => {
      if (change.kind === 'grants') this.drop(change.keyId);
    });
  }

  async grantsFor(keyId: string, granteePrincipal: string): Promise<Grant[]> {
    const now = this.clock.now().getTime();
    const hit = this.byKey.get(keyId)?.get(granteePrincipal);
    if (hit && hit.expires > now) return hit.grants;
    const generation = this.generation;
    const grants = await this.store.grantsOfGrantee(keyId, granteePrincipal);
    if (generation !== this.generation) return grants;
    let ofKey = this.byKey.get(keyId);
    if (!ofKey) this.byKey.set(keyId, (ofKey = new Map()));
    ofKey.set(granteePrincipal, { grants, expires: now + this.ttlMs });
    return grants;
  }

  /** The grants named by grant tokens (InvalidGrantTokenException for a malformed one); retired grants are simply absent. */
  async byTokens(tokens: readonly string[]): Promise<Grant[]> {
    const ids = tokens.map(decodeGrantToken);
    const found = await Promise.all(ids.map((id) => this.store.getGrant(id)));
    return found.filter((g): g is Grant => g !== undefined);
  }

  /** The key's grants changed here: forgotten here and in every other process. */
  forget(keyId: string): void {
    this.drop(keyId);
    this.changes.publish({ kind: 'grants', keyId });
  }

  private drop(keyId: string): void {
    this.generation++;
    this.byKey.delete(keyId);
  }
}
