import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../src/services/bounded-cache.js';
import { TestClock } from '../support/clock.js';

describe('BoundedCache', () => {
  const loader = () => {
    let loads = 0;
    return { load: (value: string) => async () => `${value}#${++loads}`, loads: () => loads };
  };

  it('serves an entry until its time is up, then reads it again, and counts hits and misses', async () => {
    const clock = new TestClock();
    const cache = new BoundedCache<string>('test', clock, 1_000);
    const { load } = loader();
    expect(await cache.get('k', '', load('a'))).toBe('a#1');
    expect(await cache.get('k', '', load('a'))).toBe('a#1');
    clock.advance(1_001);
    expect(await cache.get('k', '', load('a'))).toBe('a#2');
    expect(cache.stats).toEqual({ name: 'test', hits: 1, misses: 2, entries: 1 });
  });

  it('does not cache what a read that began before a drop returned, and drops a group whole', async () => {
    const cache = new BoundedCache<string>('test', new TestClock(), 60_000);
    let finish!: (v: string) => void;
    const slow = cache.get('key-1', 'alice', () => new Promise<string>((r) => (finish = r)));
    cache.drop('key-1'); // the grants of key-1 changed while they were being read
    finish('stale');
    expect(await slow).toBe('stale');
    const { load } = loader();
    expect(await cache.get('key-1', 'alice', load('fresh'))).toBe('fresh#1');
    expect(await cache.get('key-1', 'bob', load('fresh'))).toBe('fresh#2');
    cache.drop('key-1');
    expect(cache.stats.entries).toBe(0);
  });

  it('keeps at most maxEntries, dropping the oldest group first, and never what keep refuses', async () => {
    const cache = new BoundedCache<string>('test', new TestClock(), 60_000, 2);
    const { load, loads } = loader();
    await cache.get('a', '', load('a'));
    await cache.get('b', '', load('b'));
    await cache.get('c', '', load('c'));
    expect(cache.stats.entries).toBe(2);
    await cache.get('b', '', load('b'));
    expect(loads()).toBe(3); // b was still there
    await cache.get('a', '', load('a'));
    expect(loads()).toBe(4); // a was dropped first
    await cache.get('unknown', '', load('x'), () => false);
    await cache.get('unknown', '', load('x'), () => false);
    expect(loads()).toBe(6);
  });

  it('lets concurrent misses of one entry share one read', async () => {
    const cache = new BoundedCache<string>('test', new TestClock(), 60_000);
    const { load, loads } = loader();
    const answers = await Promise.all([1, 2, 3].map(() => cache.get('k', '', load('v'))));
    expect(answers).toEqual(['v#1', 'v#1', 'v#1']);
    expect(loads()).toBe(1);
  });
});
