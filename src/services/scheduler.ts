import type { Logger } from 'pino';

export interface ScheduledJob {
  readonly name: string;
  run(): Promise<unknown>;
}

/**
 * Runs background jobs every interval (the composition root runs them once at
 * start-up too). A run never overlaps the previous one; a failing job is logged
 * and tried again next time.
 * State lives in the store, so nothing is lost across restarts.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly jobs: readonly ScheduledJob[],
    private readonly intervalMs: number,
    private readonly logger: Logger,
    /**
     * Runs a round unless another process on the database is running one (then
     * this round is skipped): background jobs run once across instances.
     */
    private readonly onlyOne: (round: () => Promise<void>) => Promise<unknown> = (round) => round(),
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.runAll(), this.intervalMs);
    this.timer.unref();
  }

  /** Runs every job now (or waits for the run in progress, then runs again). */
  async runAll(): Promise<void> {
    while (this.running) await this.running;
    this.running = this.onlyOne(async () => {
      for (const job of this.jobs) {
        try {
          await job.run();
        } catch (e) {
          this.logger.error({ job: job.name, err: e }, 'background job failed');
        }
      }
    })
      .then(() => undefined, (e: unknown) => this.logger.error({ err: e }, 'background jobs could not run'))
      .finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.running) await this.running;
  }
}
