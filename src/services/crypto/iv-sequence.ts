import { KMSInternalException } from '../../domain/errors.js';
import { IV_LENGTH } from '../../domain/ciphertext-blob.js';

const MAX_FIXED_FIELD = 0xffff_ffff;
export const DEFAULT_INVOCATION_LIMIT = 2n ** 64n;

/**
 * Deterministic AES-GCM IVs (NIST SP 800-38D section 8.2.1): a 32-bit fixed field
 * that the store hands to one instance only, followed by a 64-bit invocation
 * counter held in memory. No (key, IV) pair repeats across instances, restarts or
 * crashes, because a restart takes a new fixed field, and the 2^32 limit of random
 * IVs does not apply. When the counter runs out (2^64 calls, or the lowered limit
 * a test sets) the instance takes a new fixed field.
 */
export class IvSequence {
  private fixed = -1;
  private counter = 0n;
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly allocateFixedField: () => Promise<number>,
    private readonly invocationLimit: bigint = DEFAULT_INVOCATION_LIMIT,
  ) {
    if (invocationLimit < 1n || invocationLimit > DEFAULT_INVOCATION_LIMIT) throw new RangeError('invocation limit must be 1..2^64');
  }

  /** The fixed field in use, for tests and diagnostics. */
  get fixedField(): number {
    return this.fixed;
  }

  async next(): Promise<Buffer> {
    while (this.fixed < 0 || this.counter >= this.invocationLimit) await this.renew();
    const iv = Buffer.allocUnsafe(IV_LENGTH);
    iv.writeUInt32BE(this.fixed, 0);
    iv.writeBigUInt64BE(this.counter++, 4);
    return iv;
  }

  private renew(): Promise<void> {
    this.renewing ??= this.allocateFixedField()
      .then((fixed) => {
        if (!Number.isInteger(fixed) || fixed < 1 || fixed > MAX_FIXED_FIELD) {
          throw new KMSInternalException('The IV fixed-field space is exhausted; no further encryption is safe with these keys.');
        }
        this.fixed = fixed;
        this.counter = 0n;
      })
      .finally(() => {
        this.renewing = undefined;
      });
    return this.renewing;
  }
}
