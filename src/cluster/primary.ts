import { ClusterMetrics } from '../metrics/service-metrics.js';
import cluster, { type Worker } from 'node:cluster';
import { logStartBanner, startPrimary, StartupError } from '../app.js';
import { serviceUrl, type Config } from '../config/config.js';
import type { CacheChange, ChangeFeed } from '../services/changes.js';
import { asClusterMessage } from './messages.js';
import { GateKeeper } from './token-gate.js';

/** A worker that dies is started again after this long (not at once: a failing start would spin). */
const RESTART_DELAY_MS = 1_000;
/** How long workers get to finish their calls and seal their trails at shutdown. */
const STOP_TIMEOUT_MS = 15_000;

/** The primary's side of the change feed: what one worker changed goes to every other, and to the primary's own caches. */
class WorkerHub implements ChangeFeed {
  private readonly workers = new Set<Worker>();
  private readonly listeners: Array<(change: CacheChange) => void> = [];

  add(worker: Worker): void {
    this.workers.add(worker);
  }

  remove(worker: Worker): void {
    this.workers.delete(worker);
  }

  /** A change made by the primary itself (its background jobs). */
  publish(change: CacheChange): void {
    this.send(change, undefined);
  }

  subscribe(listener: (change: CacheChange) => void): void {
    this.listeners.push(listener);
  }

  relay(from: Worker, change: CacheChange): void {
    for (const listener of this.listeners) listener(change);
    this.send(change, from);
  }

  private send(change: CacheChange, except: Worker | undefined): void {
    for (const worker of this.workers) {
      if (worker !== except && worker.isConnected()) worker.send({ type: 'cache-change', change }, () => undefined);
    }
  }
}

/**
 * Several workers on one port (node:cluster): the start-up work (token,
 * migrations, recovery) is done here once before any worker starts; then the
 * workers serve, and this process runs the background jobs, relays cache
 * changes between workers, starts a dead worker again, and stops them all on a
 * signal.
 */
export async function runPrimary(config: Config): Promise<void> {
  const hub = new WorkerHub();
  const clusterMetrics = new ClusterMetrics();
  const gate = new GateKeeper();
  const primary = await startPrimary({ config, role: { kind: 'primary', changes: hub, tokenGate: gate.local } });
  const { logger } = primary;
  const running = new Map<number, Worker>();
  let stopping = false;

  const fork = (index: number): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const worker = cluster.fork();
      running.set(index, worker);
      hub.add(worker);
      worker.on('message', (raw: unknown) => {
        const message = asClusterMessage(raw);
        const owner = `${worker.id}:`;
        // A worker forked just before a shutdown began may have missed the stop: it asks now.
        if (message?.type === 'hello') worker.send(stopping ? { type: 'stop' } : { type: 'start', index, workers: config.workers });
        else if (message?.type === 'ready') resolve(message.port);
        else if (message?.type === 'cache-change') hub.relay(worker, message.change);
        else if (message?.type === 'gate-acquire') gate.acquire(owner + message.id, () => worker.send({ type: 'gate-granted', id: message.id }, () => undefined));
        else if (message?.type === 'gate-release') gate.release(owner + message.id);
        else if (message?.type === 'metrics-request') {
          const answer = (text: string) => worker.send({ type: 'metrics', id: message.id, text }, () => undefined);
          clusterMetrics.text().then(answer, (e: unknown) => {
            logger.warn({ err: e }, 'the workers\' metrics could not be collected');
            answer('');
          });
        }
      });
      worker.once('exit', (code, signal) => {
        hub.remove(worker);
        gate.forget(`${worker.id}:`);
        if (running.get(index) === worker) running.delete(index);
        // Its own reason is on stderr already, in its own one line.
        reject(new StartupError(`worker ${index} exited (${signal ?? code}) before it was serving`));
        // A clean exit is a stop someone asked for; anything else is restarted.
        if (stopping || code === 0) return;
        logger.error({ worker: index, pid: worker.process.pid, code, signal }, 'worker exited; starting it again');
        setTimeout(() => {
          if (!stopping) fork(index).catch((e: unknown) => logger.error({ worker: index, err: e }, 'worker failed to start again'));
        }, RESTART_DELAY_MS);
      });
    });

  const stopWorkers = async () => {
    const exits = [...running.values()].map(
      (worker) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          worker.once('exit', () => resolve());
          if (worker.isConnected()) worker.send({ type: 'stop' }, () => undefined);
          else worker.process.kill('SIGTERM');
          setTimeout(() => worker.process.kill('SIGKILL'), STOP_TIMEOUT_MS).unref();
        }),
    );
    await Promise.all(exits);
  };

  let ports: number[];
  try {
    ports = await Promise.all(Array.from({ length: config.workers }, (_, i) => fork(i + 1)));
  } catch (e) {
    stopping = true;
    await stopWorkers();
    await primary.stop();
    throw e;
  }
  logStartBanner(logger, config, serviceUrl(config, ports[0]!), { ...primary, workers: config.workers });

  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stopWorkers()
      .then(() => primary.stop())
      .then(
        () => process.exit(0),
        (e: unknown) => {
          logger.error({ err: e }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
