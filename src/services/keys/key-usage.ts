import type { Logger } from 'pino';
import type { KmsKey } from '../../domain/key.js';
import type { KeyLastUse, KeyUsageStore } from '../access/access-ports.js';

const DAY_MS = 86_400_000;

/**
 * The last successful cryptographic use of each key (GetKeyLastUsage and
 * kms:TrailingDaysWithoutKeyUsage). A request only updates a map in memory; the
 * map goes to the store in one transaction per interval and at shutdown, so no
 * request waits for a database write. After a crash, what the store lacks is
 * taken again from the audit trail's events since the last batch (replay).
 */
export class KeyUsageTracker {
  private pending = new Map<string, KeyLastUse>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly store: KeyUsageStore,
    private readonly flushIntervalMs: number,
    private readonly logger: Logger,
    /** This process's name among several writing usage (one per audit trail); '' alone. */
    private readonly writer = '',
  ) {}

  start(): void {
    if (this.flushIntervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  record(keyId: string, usage: KeyLastUse): void {
    const held = this.pending.get(keyId);
    if (!held || held.timestamp.getTime() <= usage.timestamp.getTime()) this.pending.set(keyId, usage);
  }

  async lastUsage(keyId: string): Promise<KeyLastUse | undefined> {
    const stored = await this.store.lastUsage(keyId);
    const held = this.pending.get(keyId);
    if (!stored || !held) return held ?? stored;
    return held.timestamp.getTime() >= stored.timestamp.getTime() ? held : stored;
  }

  /** The later of the key's creation and the start of tracking: GetKeyLastUsage's TrackingStartDate. */
  async trackingStartFor(key: KmsKey): Promise<Date> {
    const started = await this.store.trackingStart();
    return started.getTime() > key.creationDate.getTime() ? started : key.creationDate;
  }

  /** kms:TrailingDaysWithoutKeyUsage: whole days since the last use, or since tracking began for this key. */
  async trailingDaysWithoutUsage(key: KmsKey, now: Date): Promise<number> {
    const since = (await this.lastUsage(key.keyId))?.timestamp ?? (await this.trackingStartFor(key));
    return Math.max(0, Math.floor((now.getTime() - since.getTime()) / DAY_MS));
  }

  /** When the store last took a batch from this process: a crash can only have lost usage after it. */
  flushedAt(): Promise<Date | undefined> {
    return this.store.flushedAt(this.writer);
  }

  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      // Wall-clock time, as the audit events that a restart after a crash replays from it.
      await this.store.recordUsage(batch, new Date(), this.writer);
    } catch (e) {
      for (const [keyId, usage] of batch) this.record(keyId, usage);
      this.logger.error({ err: e }, 'key usage could not be stored; will retry');
    }
  }
}
