import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { startService, type RunningService } from '../../src/app.js';
import { callAdmin } from '../../src/cli/admin-client.js';
import { parseConfig, type ConfigInput } from '../../src/config/config.js';
import type { Clock } from '../../src/services/ports/index.js';
import { freshPostgresDatabase } from './postgres.js';

export const TEST_ACCESS_KEY_ID = 'AKIATESTADMIN00000001';
export const TEST_SECRET_ACCESS_KEY = 'test-secret-access-key-0123456789abcdef';

export interface TestService {
  readonly service: RunningService;
  readonly client: KMSClient;
  readonly endpoint: string;
  readonly dataDir: string;
  /** Stops the service (the data folder stays until cleanup). */
  stop(): Promise<void>;
  /** Stops the service and removes its throwaway token and database. */
  cleanup(): Promise<void>;
}

export interface TestServiceOptions {
  /** Reuse a data folder (to restart a service on the same token and database). */
  readonly dataDir?: string;
  readonly config?: Partial<ConfigInput>;
  readonly clock?: Clock;
  readonly ivInvocationLimit?: bigint;
  /** Receives the service's log lines (pino JSON) instead of discarding them. */
  readonly logLines?: string[];
}

/** How the tests' KMS clients talk to a test service (no retries: a failure shows at once). */
export function kmsClientConfig(endpoint: string, accessKeyId = TEST_ACCESS_KEY_ID, secretAccessKey = TEST_SECRET_ACCESS_KEY): KMSClientConfig {
  return { endpoint, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 };
}

export function kmsClient(endpoint: string, accessKeyId = TEST_ACCESS_KEY_ID, secretAccessKey = TEST_SECRET_ACCESS_KEY): KMSClient {
  return new KMSClient(kmsClientConfig(endpoint, accessKeyId, secretAccessKey));
}

/** A client of the service in each region a test asks for (a deployment serving several), destroyed after the file's tests. */
export function useRegionClients(kms: Pick<TestService, 'endpoint'>): (region: string) => KMSClient {
  const clients: KMSClient[] = [];
  afterAll(() => clients.forEach((c) => c.destroy()));
  return (region) => {
    const client = new KMSClient({ ...kmsClientConfig(kms.endpoint), region });
    clients.push(client);
    return client;
  };
}

/** Calls the admin API of a test service, as its admin unless other credentials are given. */
export function testAdmin(
  endpoint: string,
  credentials = { accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY },
): (operation: string, input: Record<string, unknown>) => Promise<Record<string, unknown>> {
  return (operation, input) => callAdmin({ endpoint, region: 'us-east-1', ...credentials }, operation, input);
}

const postgresDatabases = new Map<string, string>();

async function postgresDatabaseFor(dataDir: string): Promise<string> {
  let url = postgresDatabases.get(dataDir);
  if (!url) postgresDatabases.set(dataDir, (url = await freshPostgresDatabase()));
  return url;
}

/**
 * Starts the real service on an ephemeral port with its own SoftHSM token and
 * SQLite file under a fresh temp folder: nothing is shared with other tests.
 */
export async function startTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-test-')));
  // KMS_TEST_STORE=postgres: the same tests on a PostgreSQL database of their own (scripts/test.sh runs the API's files so too).
  // A restart on the same data folder keeps its database.
  const database = options.config?.database ?? (process.env.KMS_TEST_STORE === 'postgres' ? await postgresDatabaseFor(dataDir) : undefined);
  const config = parseConfig({
    database,
    dataDir,
    port: 0,
    logLevel: 'silent',
    // Tests create keys and call far faster than AWS's quotas allow; test/integration/quotas.test.ts turns them on.
    quotas: 'off',
    // Services started in one test process share one SoftHSM instance (a module is initialised once per
    // process, with the first SOFTHSM2_CONF), so a later one meets the token of an earlier one with a fresh
    // database. test/integration/iv-restore.test.ts turns this off to see the refusal.
    ivAdvanceToToken: true,
    admin: { accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY },
    ...options.config,
  });
  const service = await startService({
    config,
    clock: options.clock,
    ivInvocationLimit: options.ivInvocationLimit,
    logger: options.logLines
      ? pino({ level: 'debug' }, { write: (line: string) => void options.logLines!.push(line) })
      : pino({ level: process.env.KMS_TEST_LOG_LEVEL ?? 'silent' }),
  });
  const client = kmsClient(service.url);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    client.destroy();
    await service.stop();
  };
  return {
    service,
    client,
    endpoint: service.url,
    dataDir,
    stop,
    async cleanup() {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a test service for the whole file: `beforeAll` starts it and
 * `afterAll` cleans it up. The returned object forwards to the started
 * instance, so `kms.client`, `kms.endpoint`, ... work inside tests and hooks.
 * Register the file's own extra setup/teardown hooks after this call.
 */
export function useTestService(options: TestServiceOptions = {}): TestService {
  let instance: TestService | undefined;
  const started = (): TestService => {
    if (!instance) throw new Error('the test service has not started (use it inside tests or hooks)');
    return instance;
  };
  beforeAll(async () => {
    instance = await startTestService(options);
  });
  afterAll(async () => {
    await instance?.cleanup();
  });
  return {
    get service() {
      return started().service;
    },
    get client() {
      return started().client;
    },
    get endpoint() {
      return started().endpoint;
    },
    get dataDir() {
      return started().dataDir;
    },
    stop: () => started().stop(),
    cleanup: () => started().cleanup(),
  };
}
