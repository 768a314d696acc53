import { Policy } from '../../domain/policy/policy.js';
import { rootArn } from '../../domain/principal-arn.js';
import type { PrincipalStore } from './access-ports.js';
import type { CredentialSealer } from './credential-sealer.js';
import type { Clock, Credential, CredentialDirectory } from '../ports/index.js';
import { SINGLE_PROCESS, type ChangeFeed } from '../changes.js';
import { BoundedCache } from '../bounded-cache.js';

/** Known access keys kept at most; the oldest is dropped first. Unknown ids are never cached. */
const MAX_CACHED = 10_000;

/**
 * Access keys by id: the bootstrap administrator from configuration, every other
 * one from the store, its secret unsealed in the token and its principal's
 * identity policies parsed once, then cached. Changes made in this process count
 * at once, here and (through the change feed) in the other processes; a change
 * the feed did not carry counts within the TTL.
 */
export class PrincipalDirectory implements CredentialDirectory {
  readonly cache: BoundedCache<Credential | undefined>;
  private readonly bootstrap: Credential;

  constructor(
    private readonly store: PrincipalStore,
    private readonly sealer: CredentialSealer,
    clock: Clock,
    ttlMs: number,
    admin: { accessKeyId: string; secretAccessKey: string },
    /** The service's default account, whose root is the operator. */
    private readonly operatorAccount: string,
    private readonly changes: ChangeFeed = SINGLE_PROCESS,
    /** KMS_DEV_CONVENIENCES: an unknown access key is the account root (as LocalStack takes test/test). */
    private readonly anyAccessKey = false,
  ) {
    this.cache = new BoundedCache('credentials', clock, ttlMs, MAX_CACHED);
    changes.subscribe((change) => {
      if (change.kind === 'credentials') this.drop(change.accessKeyIds);
    });
    this.bootstrap = {
      secretAccessKey: admin.secretAccessKey,
      principal: { accountId: operatorAccount, arn: rootArn(operatorAccount), uniqueId: operatorAccount, accessKeyId: admin.accessKeyId, identityPolicies: [], operator: true },
    };
  }

  lookup(accessKeyId: string): Promise<Credential | undefined> {
    if (accessKeyId === this.bootstrap.principal.accessKeyId) return Promise.resolve(this.bootstrap);
    // Unknown ids are not remembered: a flood of made-up ids cannot push real ones out.
    const known = this.cache.get(accessKeyId, '', () => this.read(accessKeyId), (credential) => credential !== undefined);
    if (!this.anyAccessKey) return known;
    return known.then(
      (credential) =>
        credential ?? {
          secretAccessKey: '',
          anyKey: true as const,
          principal: { accountId: this.operatorAccount, arn: rootArn(this.operatorAccount), uniqueId: this.operatorAccount, accessKeyId, identityPolicies: [], operator: false },
        },
    );
  }

  /** Forgets cached credentials so that a change made here counts on the next request. */
  forget(accessKeyIds: readonly string[]): void {
    this.drop(accessKeyIds);
    this.changes.publish({ kind: 'credentials', accessKeyIds });
  }

  private drop(accessKeyIds: readonly string[]): void {
    for (const id of accessKeyIds) this.cache.drop(id);
  }

  private async read(accessKeyId: string): Promise<Credential | undefined> {
    const key = await this.store.getAccessKey(accessKeyId);
    if (!key || key.status !== 'Active') return undefined;
    const principal = await this.store.getPrincipal(key.principalArn);
    if (!principal || !principal.enabled) return undefined;
    const documents = await this.store.listIdentityPolicies(principal.arn);
    return {
      secretAccessKey: await this.sealer.open(accessKeyId, key.sealedSecret),
      principal: {
        accountId: principal.accountId,
        arn: principal.arn,
        uniqueId: principal.uniqueId,
        accessKeyId,
        identityPolicies: documents.map((d) => Policy.parse(d.document, 'identity')),
        operator: principal.arn === rootArn(this.operatorAccount),
      },
    };
  }
}
