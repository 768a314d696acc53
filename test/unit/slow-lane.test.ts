import { describe, expect, it } from 'vitest';
import { ThrottlingException } from '../../src/domain/errors.js';
import { SlowLane } from '../../src/services/crypto/slow-lane.js';

describe('the slow lane', () => {
  it('runs at most its concurrency at once, in order, and throttles past its queue', async () => {
    const lane = new SlowLane(2, 3);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const releases: Array<() => void> = [];
    const job = (n: number) =>
      lane.run(async () => {
        running++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running--;
        order.push(n);
        return n;
      });
    const jobs = [1, 2, 3, 4, 5].map(job);
    await expect(job(6)).rejects.toBeInstanceOf(ThrottlingException); // two running, three waiting: full
    for (let done = 0; done < 5; done++) {
      await new Promise((r) => setImmediate(r));
      releases.shift()!();
    }
    expect(await Promise.all(jobs)).toEqual([1, 2, 3, 4, 5]);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(most).toBe(2);
    // The lane is free again.
    const seventh = job(7);
    await new Promise((r) => setImmediate(r));
    releases.shift()!();
    expect(await seventh).toBe(7);
  });
});
