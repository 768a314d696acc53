import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from './service.js';

const root = path.resolve(import.meta.dirname, '../..');

export interface SpawnedService {
  readonly child: ChildProcess;
  /** The service's URL, once it logs "hsm-kms listening" (rejects if it exits first). */
  readonly url: Promise<string>;
  /** Sends the signal (SIGTERM unless told) and waits until the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs the service as its own process, the way `npm start` does, on the given
 * data folder. Its log (stderr) is read here, which also drains it.
 */
export function spawnService(
  dataDir: string,
  admin: { accessKeyId: string; secretAccessKey: string } = { accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY },
  env: Record<string, string> = {},
  /** What node runs: the TypeScript entry through tsx unless told otherwise (the compiled dist/src/main.js, say). */
  entry: readonly string[] = ['--import', 'tsx', 'src/main.ts'],
): SpawnedService {
  // node itself, not the tsx wrapper: a signal must hit the process that holds the token.
  const child = spawn(process.execPath, [...entry], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      KMS_DATA_DIR: dataDir,
      KMS_PORT: '0',
      KMS_ADMIN_ACCESS_KEY_ID: admin.accessKeyId,
      KMS_ADMIN_SECRET_ACCESS_KEY: admin.secretAccessKey,
      KMS_QUOTAS: 'off', // load tests and benchmarks measure the service, not AWS's quotas
      KMS_WORKERS: '1', // one process, whose pid the tests signal; the cluster's tests ask for more
      ...env,
    },
    // The service logs to stderr (stdout stays free); the log is read here, which also drains it.
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  const url = new Promise<string>((resolve, reject) => {
    // What it said last, to tell why when it ends before serving.
    const last: string[] = [];
    const lines = createInterface({ input: child.stderr! });
    lines.once('close', () => reject(new Error(`service exited early with ${child.exitCode}: ${last.join(' | ')}`)));
    child.once('exit', () => lines.close());
    lines.on('line', (line) => {
      last.push(line.slice(0, 400));
      if (last.length > 3) last.shift();
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'hsm-kms listening' && entry.url) resolve(entry.url);
    });
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    child,
    url,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      child.kill(signal);
      await exited;
      child.stderr?.destroy();
    },
  };
}

/** Runs the service (src/main.ts) on the folder until it ends by itself: its exit code and everything it wrote on stderr. */
export function runServiceToEnd(dataDir: string, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, KMS_DATA_DIR: dataDir, KMS_PORT: '0', KMS_WORKERS: '1', KMS_ADMIN_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID, KMS_ADMIN_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}
