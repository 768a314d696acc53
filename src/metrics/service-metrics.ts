import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PoolGauges } from '../hsm/session-pool.js';
import type { TokenOperation } from '../hsm/token.js';
import type { CacheStats } from '../services/bounded-cache.js';

/** What the metrics read when they are scraped, from the parts that own it. */
export interface MetricSources {
  readonly sessions: () => PoolGauges;
  readonly tokenAvailable: () => boolean;
  readonly tokenRecoveries: () => number;
  readonly caches: () => readonly CacheStats[];
  /** Audit records waiting to be written (0 with the trail off). */
  readonly auditBacklog: () => number;
  readonly keysByState: () => Promise<Record<string, number>>;
}

const UNTIMED: ReadonlySet<string> = new Set(['exclusive', 'changeFeed', 'holdInstance', 'close']);

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The service's Prometheus metrics (the only module that speaks prom-client):
 * requests by operation and outcome with their latency, token calls by
 * operation, the session pool, database calls, the audit trail's backlog and
 * fsyncs, cache hit rates, keys by state, and node's own process metrics. With
 * several workers each keeps its own and the primary adds them up for a scrape
 * (keys by state, read from the one database, is taken once, not summed).
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation' | 'outcome'>;
  private readonly requestSeconds: Histogram<'operation'>;
  private readonly tokenSeconds: Histogram<'operation' | 'outcome'>;
  private readonly databaseSeconds: Histogram<'method'>;
  private readonly auditSyncSeconds: Histogram;
  private sources: MetricSources | undefined;

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'kms_requests_total', help: 'API calls answered, by operation and outcome (Success or the AWS error name).', labelNames: ['operation', 'outcome'], registers });
    this.requestSeconds = new Histogram({ name: 'kms_request_duration_seconds', help: 'Time from a call arriving to its answer, audit event included.', labelNames: ['operation'], buckets: LATENCY_BUCKETS, registers });
    this.tokenSeconds = new Histogram({ name: 'kms_token_call_duration_seconds', help: 'PKCS#11 calls by operation (mechanism family), waiting for a session included.', labelNames: ['operation', 'outcome'], buckets: LATENCY_BUCKETS, registers });
    this.databaseSeconds = new Histogram({ name: 'kms_database_call_duration_seconds', help: 'Calls to the metadata store, by store method.', labelNames: ['method'], buckets: LATENCY_BUCKETS, registers });
    this.auditSyncSeconds = new Histogram({ name: 'kms_audit_fsync_duration_seconds', help: 'fsync of the audit trail.', buckets: LATENCY_BUCKETS, registers });
    const read = () => this.sources;
    new Gauge({
      name: 'kms_token_sessions',
      help: 'The PKCS#11 session pool: its size, sessions open, in use, and requests waiting for one.',
      labelNames: ['state'],
      registers,
      collect() {
        const g = read()?.sessions();
        if (!g) return;
        this.set({ state: 'size' }, g.size);
        this.set({ state: 'open' }, g.open);
        this.set({ state: 'in_use' }, g.inUse);
        this.set({ state: 'waiting' }, g.waiting);
      },
    });
    new Gauge({
      name: 'kms_token_available',
      help: '1 while the token serves calls, 0 while the module is being initialised again after a failure.',
      registers,
      aggregator: 'min',
      collect() {
        const s = read();
        if (s) this.set(s.tokenAvailable() ? 1 : 0);
      },
    });
    new Counter({
      name: 'kms_token_recoveries_total',
      help: 'Times the token failed and the module was initialised again.',
      registers,
      collect() {
        const s = read();
        if (!s) return;
        this.reset();
        this.inc(s.tokenRecoveries());
      },
    });
    new Counter({
      name: 'kms_cache_lookups_total',
      help: 'Metadata cache lookups, by cache and result (hit or miss).',
      labelNames: ['cache', 'result'],
      registers,
      collect() {
        const s = read();
        if (!s) return;
        this.reset();
        for (const c of s.caches()) {
          this.inc({ cache: c.name, result: 'hit' }, c.hits);
          this.inc({ cache: c.name, result: 'miss' }, c.misses);
        }
      },
    });
    new Gauge({
      name: 'kms_cache_entries',
      help: 'Entries held by each metadata cache.',
      labelNames: ['cache'],
      registers,
      collect() {
        for (const c of read()?.caches() ?? []) this.set({ cache: c.name }, c.entries);
      },
    });
    new Gauge({
      name: 'kms_audit_backlog',
      help: 'Audit records waiting to be written.',
      registers,
      collect() {
        const s = read();
        if (s) this.set(s.auditBacklog());
      },
    });
    new Gauge({
      name: 'kms_keys',
      help: 'KMS keys by key state (from the database: the same for every process, not summed).',
      labelNames: ['state'],
      registers,
      aggregator: 'max',
      async collect() {
        const s = read();
        if (!s) return;
        this.reset();
        for (const [state, n] of Object.entries(await s.keysByState())) this.set({ state }, n);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Connects the scrape-time readings once the parts exist. */
  attach(sources: MetricSources): void {
    this.sources = sources;
  }

  requestFinished(operation: string, outcome: string, seconds: number): void {
    this.requests.inc({ operation, outcome });
    this.requestSeconds.observe({ operation }, seconds);
  }

  tokenCall(operation: TokenOperation, seconds: number, ok: boolean): void {
    this.tokenSeconds.observe({ operation, outcome: ok ? 'ok' : 'error' }, seconds);
  }

  auditSync(seconds: number): void {
    this.auditSyncSeconds.observe(seconds);
  }

  /**
   * The store with every method timed (its nested stores too), by method name:
   * one place for the database's latency, whatever the dialect.
   */
  timed<T extends object>(store: T, prefix = ''): T {
    const histogram = this.databaseSeconds;
    const nested = new Map<PropertyKey, unknown>();
    return new Proxy(store, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        // Not database calls to time: work run under a lock, the change feed, the instance's hold, closing.
        // Untimed methods still run on the store itself, as the timed ones do (their own fields are not the proxy's).
        if (typeof prop !== 'string' || UNTIMED.has(prop)) return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        if (typeof value === 'function') {
          return (...args: unknown[]) => {
            const started = process.hrtime.bigint();
            const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
            if (!(result instanceof Promise)) return result;
            const done = () => histogram.observe({ method: prefix + prop }, Number(process.hrtime.bigint() - started) / 1e9);
            result.then(done, done);
            return result;
          };
        }
        if (typeof value === 'object' && value !== null && !Buffer.isBuffer(value)) {
          if (!nested.has(prop)) nested.set(prop, this.timed(value, `${prefix}${prop}.`));
          return nested.get(prop);
        }
        return value;
      },
    });
  }

  contentType(): string {
    return this.registry.contentType;
  }

  /** This process's metrics in Prometheus's text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** In a worker of several: lets the primary collect this worker's metrics (prom-client's cluster messages). */
  shareWithPrimary(): void {
    AggregatorRegistry.setRegistries([this.registry]);
    new AggregatorRegistry();
  }
}

/** In the primary of several workers: every worker's metrics, added up, for one scrape. */
export class ClusterMetrics {
  private readonly aggregator = new AggregatorRegistry();

  text(): Promise<string> {
    return this.aggregator.clusterMetrics();
  }

  contentType(): string {
    return this.aggregator.contentType;
  }
}
