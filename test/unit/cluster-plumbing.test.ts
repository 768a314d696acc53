import { describe, expect, it } from 'vitest';
import { asClusterMessage } from '../../src/cluster/messages.js';
import { GateKeeper } from '../../src/cluster/token-gate.js';
import { parseConfig } from '../../src/config/config.js';
import { availableParallelism } from 'node:os';

describe('the token change gate among workers', () => {
  it('grants one holder at a time, in the order asked', () => {
    const gate = new GateKeeper();
    const granted: string[] = [];
    for (const owner of ['1:0', '2:0', '1:1']) gate.acquire(owner, () => granted.push(owner));
    expect(granted).toEqual(['1:0']);
    gate.release('2:0'); // not the holder: nothing moves
    expect(granted).toEqual(['1:0']);
    gate.release('1:0');
    expect(granted).toEqual(['1:0', '2:0']);
    gate.release('2:0');
    expect(granted).toEqual(['1:0', '2:0', '1:1']);
  });

  it('lets go of what a dead worker held or asked for', () => {
    const gate = new GateKeeper();
    const granted: string[] = [];
    for (const owner of ['1:0', '1:1', '2:0']) gate.acquire(owner, () => granted.push(owner));
    gate.forget('1:');
    expect(granted).toEqual(['1:0', '2:0']);
  });

  it('queues the primary\'s own changes with the workers\'', async () => {
    const gate = new GateKeeper();
    const order: string[] = [];
    gate.acquire('1:0', () => order.push('worker'));
    const local = gate.local.exclusive(async () => order.push('primary'));
    await Promise.resolve();
    expect(order).toEqual(['worker']);
    gate.release('1:0');
    await local;
    expect(order).toEqual(['worker', 'primary']);
  });
});

describe('cluster messages', () => {
  it('are checked, not trusted', () => {
    expect(asClusterMessage({ type: 'start', index: 1, workers: 2 })).toEqual({ type: 'start', index: 1, workers: 2 });
    expect(asClusterMessage({ type: 'cache-change', change: { kind: 'key', keyId: 'k' } })).toBeDefined();
    expect(asClusterMessage({ type: 'cache-change', change: { kind: 'credentials', accessKeyIds: ['A', 1] } })).toBeUndefined();
    expect(asClusterMessage({ type: 'cache-change', change: { kind: 'nothing' } })).toBeUndefined();
    expect(asClusterMessage({ type: 'gate-acquire', id: -1 })).toBeUndefined();
    expect(asClusterMessage({ type: 'ready', port: '80' })).toBeUndefined();
    expect(asClusterMessage('stop')).toBeUndefined();
    expect(asClusterMessage(null)).toBeUndefined();
  });
});

describe('KMS_WORKERS', () => {
  it('defaults to one worker per core and takes 1 to 64', () => {
    expect(parseConfig({}).workers).toBe(availableParallelism());
    expect(parseConfig({ workers: '1' }).workers).toBe(1);
    expect(() => parseConfig({ workers: '0' })).toThrow(/workers/);
    expect(() => parseConfig({ workers: '65' })).toThrow(/workers/);
  });
});
