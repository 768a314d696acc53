import type { Clock } from '../../src/services/ports.js';

export const DAY_MS = 86_400_000;

/** A clock the test moves forward instead of waiting days. */
export class TestClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
