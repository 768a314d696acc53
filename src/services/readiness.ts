import type { Clock } from './ports/index.js';

export interface ReadinessChecks {
  /** Throws unless the database answers. */
  readonly database: () => Promise<void>;
  /** False while the token is being initialised again after a failure (no call is made then). */
  readonly tokenAvailable: () => boolean;
  /** Throws unless a round trip through the token succeeds. */
  readonly tokenCanary: () => Promise<void>;
}

export interface ReadinessReport {
  readonly ready: boolean;
  /** What failed, for the operational log only: the route reveals nothing but ready or not. */
  readonly failures: readonly string[];
}

/**
 * Whether this process can serve: the database reachable, the token logged in
 * and a canary encryption in it coming back. Checked at most once a second
 * (concurrent probes share one check), so a load balancer may ask as often as it
 * likes.
 */
export class Readiness {
  private last: { at: number; report: Promise<ReadinessReport> } | undefined;

  constructor(
    private readonly checks: ReadinessChecks,
    private readonly clock: Clock,
    private readonly cacheMs = 1_000,
  ) {}

  report(): Promise<ReadinessReport> {
    const now = this.clock.now().getTime();
    if (this.last && now - this.last.at < this.cacheMs) return this.last.report;
    const report = this.check();
    this.last = { at: now, report };
    return report;
  }

  private async check(): Promise<ReadinessReport> {
    const failures: string[] = [];
    const attempt = async (name: string, check: () => Promise<void>) => {
      try {
        await check();
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message}`);
      }
    };
    await attempt('database', this.checks.database);
    if (!this.checks.tokenAvailable()) failures.push('token: being initialised again after a failure');
    else await attempt('token', this.checks.tokenCanary);
    return { ready: failures.length === 0, failures };
  }
}
