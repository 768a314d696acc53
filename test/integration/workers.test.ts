import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { CreateGrantCommand, CreateKeyCommand, DisableKeyCommand, EncryptCommand, KMSClient, RevokeGrantCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnService, type SpawnedService } from '../support/process.js';
import { kmsClientConfig, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, testAdmin } from '../support/service.js';
import { auditEvents } from '../support/audit.js';
import { readEventsSince } from '../../src/audit/file-trail.js';

const WORKERS = 2;
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
let dataDir: string;
let service: SpawnedService;
let endpoint: string;
const clients: KMSClient[] = [];

/**
 * A client that opens a new connection for every request: node:cluster hands
 * connections to the workers in turn, so consecutive calls reach every worker.
 */
function everyWorker(credentials = { accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY }): KMSClient {
  const client = new KMSClient({ ...kmsClientConfig(endpoint, credentials.accessKeyId, credentials.secretAccessKey), requestHandler: { httpAgent: new http.Agent({ keepAlive: false }) } });
  clients.push(client);
  return client;
}

/** A round of calls, one per worker and then some, each on a new connection. */
const ROUND = WORKERS * 3;

async function allSucceed(call: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < ROUND; i++) await call();
}

/** How long after the change every worker refused the call with this error (a whole round refused), or Infinity after 5 s. */
async function refusedEverywhereAfter(call: () => Promise<unknown>, errorName: string): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < 5_000) {
    let refused = 0;
    for (let i = 0; i < ROUND; i++) {
      const outcome = await call().then(
        () => 'served',
        (e: Error) => e.name,
      );
      if (outcome === errorName) refused++;
      else if (outcome !== 'served') throw new Error(`expected ${errorName} or success, got ${outcome}`);
    }
    if (refused === ROUND) return performance.now() - started;
  }
  return Number.POSITIVE_INFINITY;
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-workers-'));
  // A cache lifetime of 5 minutes: without the broadcast, a worker would keep serving for that long.
  service = spawnService(dataDir, undefined, { KMS_WORKERS: String(WORKERS), KMS_METADATA_CACHE_TTL_MS: '300000' });
  endpoint = await service.url;
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.destroy();
  await service?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** The pids of the primary's children: its workers. */
function workerPids(): number[] {
  const pid = service.child.pid!;
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

describe(`${WORKERS} workers on one port (KMS_WORKERS)`, () => {
  it('serve the same keys, each with its own audit chain, the primary\'s start-up work done once', async () => {
    expect(workerPids()).toHaveLength(WORKERS);
    const client = everyWorker();
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await allSucceed(() => client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })));
    const audit = path.join(dataDir, 'audit');
    for (let worker = 1; worker <= WORKERS; worker++) {
      const encrypts = (await auditEvents(path.join(audit, `worker-${worker}`))).filter((e) => e.eventName === 'Encrypt' && e.errorCode === undefined);
      expect(encrypts.length, `Encrypts in worker-${worker}'s chain`).toBeGreaterThan(0);
    }
    // The primary's own chain (the folder itself) holds its background work, never a request.
    expect((await readEventsSince(audit, undefined)).filter((e) => e.eventType === 'AwsApiCall')).toEqual([]);
  });

  it('publish every worker\'s metrics added up, whichever worker a scrape reaches', async () => {
    const scrape = async () => {
      // A new connection each time, so that scrapes reach every worker too.
      const response = await fetch(`${endpoint}/metrics`, { headers: { connection: 'close' } });
      expect(response.status).toBe(200);
      return response.text();
    };
    const encrypts = (text: string) => Number(/^kms_requests_total\{operation="Encrypt",outcome="Success"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    const client = everyWorker();
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const before = encrypts(await scrape());
    await allSucceed(() => client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('counted') })));
    for (let i = 0; i < WORKERS; i++) {
      const text = await scrape();
      expect(encrypts(text) - before).toBe(ROUND);
      // Both workers' pools added up; keys by state read once from the database, not summed.
      expect(text).toMatch(new RegExp(`^kms_token_sessions\\{state="size"\\} ${8 * WORKERS}$`, 'm'));
      // Two keys so far (one made by the first case, one here): summed over the workers it would read four.
      expect(Number(/^kms_keys\{state="Enabled"\} (\d+)$/m.exec(text)?.[1])).toBe(2);
    }
  });

  it('see the token objects each other made, also after changing the token themselves', async () => {
    // SoftHSM hides an object another process made from a process that then changes the
    // token itself, unless changes go through the gate: two keys made on two workers in a row.
    const client = everyWorker();
    const first = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const second = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    for (const keyId of [first, second]) await allSucceed(() => client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })));
  });

  it('DisableKey reaches every worker within one second', async () => {
    const client = everyWorker();
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const encrypt = () => client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
    await allSucceed(encrypt); // every worker has the key cached as Enabled
    await client.send(new DisableKeyCommand({ KeyId: keyId }));
    expect(await refusedEverywhereAfter(encrypt, 'DisabledException')).toBeLessThan(1_000);
  });

  it('ScheduleKeyDeletion reaches every worker within one second', async () => {
    const client = everyWorker();
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const encrypt = () => client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
    await allSucceed(encrypt);
    await client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    expect(await refusedEverywhereAfter(encrypt, 'KMSInvalidStateException')).toBeLessThan(1_000);
  });

  it('RevokeGrant and a disabled access key reach every worker within one second', async () => {
    const admin = testAdmin(endpoint);
    const userArn = 'arn:aws:iam::111122223333:user/worker-test';
    await admin('CreatePrincipal', { Arn: userArn });
    const { AccessKey } = (await admin('CreateAccessKey', { PrincipalArn: userArn })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
    const owner = everyWorker();
    const user = everyWorker({ accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey });
    const keyId = (await owner.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const { GrantId } = await owner.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: userArn, Operations: ['Encrypt'] }));
    const encrypt = () => user.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
    await allSucceed(encrypt); // the grant is cached in every worker
    await owner.send(new RevokeGrantCommand({ KeyId: keyId, GrantId }));
    expect(await refusedEverywhereAfter(encrypt, 'AccessDeniedException')).toBeLessThan(1_000);

    const otherKey = (await owner.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await owner.send(new CreateGrantCommand({ KeyId: otherKey, GranteePrincipal: userArn, Operations: ['Encrypt'] }));
    const encryptOther = () => user.send(new EncryptCommand({ KeyId: otherKey, Plaintext: Buffer.from('x') }));
    await allSucceed(encryptOther); // the access key is cached in every worker
    await admin('UpdateAccessKey', { AccessKeyId: AccessKey.AccessKeyId, Status: 'Inactive' });
    expect(await refusedEverywhereAfter(encryptOther, 'UnrecognizedClientException')).toBeLessThan(1_000);
  });

  it('a worker killed is started again while the other serves', async () => {
    const client = everyWorker();
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const [victim] = workerPids();
    process.kill(victim!, 'SIGKILL');
    const until = async (done: () => boolean) => {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && !done()) await new Promise((r) => setTimeout(r, 100));
    };
    // Once the primary has seen it die, it hands new connections to the other worker only.
    await until(() => !workerPids().includes(victim!));
    await allSucceed(() => client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })));
    await until(() => workerPids().length === WORKERS);
    // The new worker goes on with the dead one's audit chain, in a new file that acknowledges the cut.
    const chain = path.join(dataDir, 'audit', 'worker-1');
    const files = async () => (await readdir(chain)).filter((n) => n.endsWith('.jsonl')).length;
    const before = await files();
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (await files()) === before) await new Promise((r) => setTimeout(r, 100));
    expect(await files()).toBe(before + 1);
    expect(workerPids()).toHaveLength(WORKERS);
    expect(workerPids()).not.toContain(victim);
  }, 30_000);

  it('stop together: every chain sealed, and `audit verify` checks each of them', async () => {
    const { PublicKey } = (await testAdmin(endpoint)('GetAuditPublicKey', {})) as { PublicKey: string };
    const pem = path.join(dataDir, 'audit-public-key.pem');
    await writeFile(pem, PublicKey);
    const pids = workerPids();
    const stoppedAt = new Date();
    await service.stop();
    for (const pid of pids) expect(() => process.kill(pid, 0), `worker ${pid} still running`).toThrow();
    const trail = path.join(dataDir, 'audit');
    const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/admin.ts', 'audit', ...args], { cwd: root, env: { PATH: process.env.PATH, KMS_DATA_DIR: dataDir } });
    const ok = await cli('verify', '--trail', trail, '--public-key', pem, '--sealed-through', stoppedAt.toISOString()).catch((e: { stdout: string }) => {
      throw new Error(e.stdout);
    });
    expect(ok.stdout).toContain(`VERIFIED: ${WORKERS + 1} of ${WORKERS + 1} chains verified.`);
    const query = await cli('query', '--trail', trail, '--operation', 'DisableKey', '--json');
    expect(query.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { eventName: string }).eventName)).toEqual(['DisableKey']);

    const file = path.join(trail, 'worker-2', (await readdir(path.join(trail, 'worker-2'))).find((n) => n.endsWith('.jsonl'))!);
    await writeFile(file, (await readFile(file, 'utf8')).replace('"readOnly":true', '"readOnly":false'));
    const failed = await cli('verify', '--trail', trail, '--public-key', pem).then(
      () => undefined,
      (e: { code: number; stdout: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toMatch(/TAMPERED: trail-\d+\.jsonl line \d+/);
    expect(failed?.stdout).toContain(`NOT VERIFIED: ${WORKERS} of ${WORKERS + 1} chains verified.`);
  });
});
