import { describe, expect, it } from 'vitest';
import { KMSInternalException } from '../../src/domain/errors.js';
import { IvSequence } from '../../src/services/crypto/iv-sequence.js';

function allocator(start = 1) {
  let next = start;
  const calls: number[] = [];
  return {
    calls,
    allocate: async () => {
      calls.push(next);
      return next++;
    },
  };
}

describe('IvSequence', () => {
  it('builds IVs from a 32-bit fixed field and a 64-bit counter', async () => {
    const a = allocator(7);
    const seq = new IvSequence(a.allocate);
    const first = await seq.next();
    const second = await seq.next();
    expect(first.toString('hex')).toBe('00000007' + '0000000000000000');
    expect(second.toString('hex')).toBe('00000007' + '0000000000000001');
  });

  it('takes a new fixed field when the invocation limit is reached', async () => {
    const a = allocator();
    const seq = new IvSequence(a.allocate, 3n);
    const ivs = [];
    for (let i = 0; i < 7; i++) ivs.push((await seq.next()).toString('hex'));
    expect(new Set(ivs).size).toBe(7);
    expect(a.calls).toEqual([1, 2, 3]);
    expect(ivs[3]).toBe('00000002' + '0000000000000000');
  });

  it('allocates once for many concurrent callers at a renewal', async () => {
    const a = allocator();
    const seq = new IvSequence(a.allocate, 2n);
    const ivs = await Promise.all(Array.from({ length: 10 }, () => seq.next()));
    expect(new Set(ivs.map((iv) => iv.toString('hex'))).size).toBe(10);
    expect(a.calls.length).toBe(5);
  });

  it('refuses to encrypt once the fixed-field space is exhausted', async () => {
    const seq = new IvSequence(async () => 2 ** 32);
    await expect(seq.next()).rejects.toBeInstanceOf(KMSInternalException);
  });

  it('refuses a limit outside 1..2^64', () => {
    expect(() => new IvSequence(async () => 1, 0n)).toThrow(RangeError);
    expect(() => new IvSequence(async () => 1, 2n ** 64n + 1n)).toThrow(RangeError);
  });
});
