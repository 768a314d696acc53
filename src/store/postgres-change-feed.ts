import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { isCacheChange, type CacheChange, type ChangeFeed } from '../services/changes.js';

const CHANNEL = 'hsm_kms_cache_changes';
const RECONNECT_MS = 1_000;

/**
 * Cache changes among every process on one PostgreSQL database (instances and
 * their workers), by LISTEN/NOTIFY: a notification reaches the others in
 * milliseconds. A process ignores its own (it applied them already). While the
 * listening connection is down (it is opened again every second), changes are
 * missed and caches catch up within their lifetime (KMS_METADATA_CACHE_TTL_MS).
 */
export class PostgresChangeFeed implements ChangeFeed {
  private readonly origin = randomUUID();
  private readonly listeners: Array<(change: CacheChange) => void> = [];
  private client: pg.Client | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly pool: pg.Pool,
  ) {}

  /** Starts listening; resolves once the first LISTEN is in place. */
  async start(): Promise<void> {
    await this.listen();
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (message) => this.received(message.payload));
    client.on('error', () => this.reconnect(client));
    client.on('end', () => this.reconnect(client));
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.client = client;
  }

  private reconnect(dead: pg.Client): void {
    if (this.closed || this.client !== dead) return;
    this.client = undefined;
    const retry = () => {
      if (this.closed) return;
      this.listen().catch(() => setTimeout(retry, RECONNECT_MS).unref());
    };
    setTimeout(retry, RECONNECT_MS).unref();
  }

  private received(payload: string | undefined): void {
    let message: { origin?: unknown; change?: unknown };
    try {
      message = JSON.parse(payload ?? '') as typeof message;
    } catch {
      return;
    }
    // Crossed a process boundary: checked, not trusted.
    if (message.origin === this.origin || !isCacheChange(message.change)) return;
    for (const listener of this.listeners) listener(message.change);
  }

  publish(change: CacheChange): void {
    this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ origin: this.origin, change })]).catch(() => undefined);
  }

  subscribe(listener: (change: CacheChange) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
