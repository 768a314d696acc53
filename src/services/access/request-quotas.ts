import { throttled } from '../../domain/errors.js';
import { TokenBucket } from '../../domain/quotas.js';
import type { CallContext } from '../context.js';
import type { Clock } from '../ports/index.js';

/**
 * Per-account, per-region request quotas, as AWS KMS applies them: each quota counted on its
 * own, for the account making the request (a cross-account call is charged to the
 * caller). Counted by this instance: several instances each allow the full rate.
 */
export class RequestQuotas {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    /** Requests per second by quota name; a quota not listed is not enforced. */
    private readonly limits: ReadonlyMap<string, number>,
    private readonly clock: Clock,
  ) {}

  /** Counts the call against the quota of its caller's account, or throws ThrottlingException (once per quota per call: the context remembers). */
  charge(ctx: Pick<CallContext, 'principal' | 'quotasCharged' | 'ownWork' | 'scope'>, quota: string | undefined): void {
    const charged = ctx.quotasCharged;
    if (quota === undefined || ctx.ownWork || charged.has(quota)) return;
    const rate = this.limits.get(quota);
    if (rate === undefined) return;
    charged.add(quota);
    // AWS counts each account's requests in each region apart.
    const id = `${ctx.principal.accountId}/${ctx.scope.region}/${quota}`;
    const now = this.clock.now().getTime();
    let bucket = this.buckets.get(id);
    if (!bucket) this.buckets.set(id, (bucket = new TokenBucket(rate, now)));
    if (!bucket.take(now)) throw throttled();
  }
}
