import type { Clock } from '../../src/services/ports/index.js';

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

/** Longer than a creation or rotation lease (5 minutes): what was left by a dead instance may be cleaned up. */
export const LEASE_EXPIRED_MS = 6 * 60_000;

/** The latest date JavaScript can represent: "any time at all". */
export const MAX_DATE = new Date(8.64e15);
