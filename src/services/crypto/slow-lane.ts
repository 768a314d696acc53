import { throttled } from '../../domain/errors.js';

/**
 * A bounded lane for slow work that runs on libuv's threads (RSA private-key
 * operations in the token, on-demand rotations). At most `concurrency` run at once,
 * so the pool's other threads stay free for the audit trail's writes and the
 * token's asynchronous calls that every other request waits for; at most
 * `maxWaiting` wait, and past that the call is throttled rather than queued
 * without bound.
 */
export class SlowLane {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxWaiting: number,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) throw throttled();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes to the next in line
      else this.running--;
    }
  }
}
