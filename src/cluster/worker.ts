import cluster from 'node:cluster';
import { startService, type RunningService } from '../app.js';
import type { Config } from '../config/config.js';
import type { CacheChange, ChangeFeed } from '../services/changes.js';
import type { TokenChangeGate } from '../hsm/change-gate.js';
import { asClusterMessage, type ClusterMessage } from './messages.js';

function send(message: ClusterMessage): void {
  // After the primary is gone the channel is closed; there is nobody left to tell.
  if (process.connected) process.send!(message, undefined, {}, () => undefined);
}

/** A worker's changes go to the primary, which passes them to the other workers; theirs come back the same way. */
class PrimaryChannel implements ChangeFeed {
  publish(change: CacheChange): void {
    send({ type: 'cache-change', change });
  }

  subscribe(listener: (change: CacheChange) => void): void {
    process.on('message', (raw) => {
      const message = asClusterMessage(raw);
      if (message?.type === 'cache-change') listener(message.change);
    });
  }
}

/** The worker's side of the token's change gate: asks the primary, waits for its turn, says when done. */
class GateThroughPrimary implements TokenChangeGate {
  private nextId = 0;
  private readonly waiting = new Map<number, { granted: () => void; refused: (e: Error) => void }>();

  constructor() {
    process.on('message', (raw) => {
      const message = asClusterMessage(raw);
      if (message?.type !== 'gate-granted') return;
      this.waiting.get(message.id)?.granted();
      this.waiting.delete(message.id);
    });
    process.on('disconnect', () => {
      for (const w of this.waiting.values()) w.refused(new Error('the primary is gone: the token cannot be changed safely'));
      this.waiting.clear();
    });
  }

  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    const id = this.nextId++;
    await new Promise<void>((granted, refused) => {
      if (!process.connected) return refused(new Error('the primary is gone: the token cannot be changed safely'));
      this.waiting.set(id, { granted, refused });
      send({ type: 'gate-acquire', id });
    });
    try {
      return await work();
    } finally {
      send({ type: 'gate-release', id });
    }
  }
}

/** Asks the primary for every worker's metrics, added up; refused when it does not answer within 5 s. */
function metricsFromPrimary(): () => Promise<string> {
  let nextId = 0;
  const waiting = new Map<number, (text: string) => void>();
  process.on('message', (raw) => {
    const message = asClusterMessage(raw);
    if (message?.type !== 'metrics') return;
    waiting.get(message.id)?.(message.text);
    waiting.delete(message.id);
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the primary did not send the metrics'));
      }, 5_000);
      waiting.set(id, (text) => {
        clearTimeout(timer);
        // Empty: the primary could not collect them (every process has node's own metrics at least).
        if (text === '') reject(new Error('the primary could not collect the metrics'));
        else resolve(text);
      });
      send({ type: 'metrics-request', id });
    });
}

/**
 * One worker of several: waits to be told which it is, serves on the port the
 * workers share, and stops when the primary says so, on a signal, or when the
 * primary is gone.
 */
export async function runWorker(config: Config): Promise<void> {
  if (!cluster.isWorker) throw new Error('runWorker runs in a node:cluster worker');
  // The primary answers hello with start, or with stop when it is shutting down.
  const start = await new Promise<Extract<ClusterMessage, { type: 'start' }> | undefined>((resolve) => {
    const onMessage = (raw: unknown) => {
      const message = asClusterMessage(raw);
      if (message?.type !== 'start' && message?.type !== 'stop') return;
      process.off('message', onMessage);
      resolve(message.type === 'start' ? message : undefined);
    };
    process.on('message', onMessage);
    send({ type: 'hello' });
  });
  if (!start) process.exit(0);
  // Asked to stop while still starting (a message now would be lost later): stop once started.
  let stopReason: string | undefined;
  let stopNow: ((reason: string) => void) | undefined;
  const stop = (reason: string) => {
    if (stopReason !== undefined) return;
    stopReason = reason;
    stopNow?.(reason);
  };
  process.on('message', (raw) => {
    if (asClusterMessage(raw)?.type === 'stop') stop('asked by the primary');
  });
  process.on('disconnect', () => stop('the primary is gone'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const service: RunningService = await startService({
    config,
    role: { kind: 'worker', index: start.index, workers: start.workers, changes: new PrimaryChannel(), tokenGate: new GateThroughPrimary(), clusterMetrics: metricsFromPrimary() },
  });
  stopNow = (reason) => {
    service.logger.info({ worker: start.index, reason }, 'worker stopping');
    service.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        service.logger.error({ err: e, worker: start.index }, 'worker shutdown failed');
        process.exit(1);
      },
    );
  };
  if (stopReason !== undefined) return stopNow(stopReason);
  service.logger.debug({ worker: start.index, pid: process.pid }, 'worker serving');
  send({ type: 'ready', port: service.port });
}
