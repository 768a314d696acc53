/**
 * The benchmark: hsm-kms over real HTTP, beside what it cannot beat.
 *
 *   npm run bench -- [--seconds 5] [--connections 1,16,64] [--tls] [--quick]
 *
 * The service runs as its own process, as `npm start` runs it, on a throwaway
 * token, database and audit trail, and is driven over keep-alive loopback with
 * pre-signed requests replayed (SigV4 verification and the audit trail still run
 * on each): Encrypt (32 B and 1 KiB), Decrypt, GenerateDataKey and Sign
 * (ECC_NIST_P256), at each connection count. In the same run, a bare node:http
 * and a bare express server answer an Encrypt's JSON, and the token's raw rate
 * for the same PKCS#11 operations is measured without HTTP. For each it prints
 * ops/s, p50/p99, the **server's CPU time per request** (from /proc: it does not
 * depend on the load generator sharing the cores) and the ratios to both bare
 * servers. It ends with what auditing costs: Encrypt against a second service
 * with KMS_AUDIT=off, alternating rounds. --tls serves HTTPS with a development
 * certificate; --quick skips the audit comparison and the raw token rates.
 * The load comes from wrk when installed (apt-get install wrk), else node:http.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { signJsonRequest } from '../src/cli/admin-client.js';
import { createKey } from '../test/support/keys.js';
import { spawnService } from '../test/support/process.js';
import { startTestService } from '../test/support/service.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '1,16,64' },
    tls: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
  },
});
const seconds = Number(args.seconds);
const connectionCounts = args.connections.split(',').map(Number);
/** Rounds of the audit on/off comparison, and its connection count. */
const AUDIT_ROUNDS = 5;
const AUDIT_CONNECTIONS = 32;
const root = path.resolve(import.meta.dirname, '..');
const credentials = { accessKeyId: 'AKIABENCHMARK0000001', secretAccessKey: 'bench-secret-access-key-0123456789' };

interface Target {
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body: string;
}

async function signed(endpoint: string, operation: string, input: object): Promise<Target> {
  const body = JSON.stringify(input);
  const { url, headers } = await signJsonRequest({ endpoint, region: 'us-east-1', ...credentials }, `TrentService.${operation}`, body);
  return { url, headers, body };
}

interface LoadResult {
  readonly rate: number;
  readonly p50: string;
  readonly p99: string;
  readonly errors: number;
  /** The measured process's CPU time per request, in microseconds (user + system, from /proc). */
  readonly cpuUs: number | undefined;
}

function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status === 1; // wrk --version exits 1 after printing
  }
}
const wrk = hasWrk();

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) a process has used so far, in milliseconds; undefined where /proc is missing. */
function processCpuMs(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Replays the request for the set time on that many connections, and measures the server process. */
async function load(target: Target, connections: number, pid: number | undefined, dir: string): Promise<LoadResult> {
  const before = processCpuMs(pid);
  const { count, ...result } = wrk ? await loadWithWrk(target, connections, dir) : await loadWithNode(target, connections);
  const after = processCpuMs(pid);
  return { ...result, cpuUs: before === undefined || after === undefined || count === 0 ? undefined : ((after - before) * 1000) / count };
}

/** wrk (a C load generator) leaves more of the cores to the server than a node client would. */
async function loadWithWrk(target: Target, connections: number, dir: string): Promise<Omit<LoadResult, 'cpuUs'> & { count: number }> {
  const script = path.join(dir, 'request.lua');
  const lines = ['wrk.method = "POST"', `wrk.body = [==[${target.body}]==]`];
  for (const [k, v] of Object.entries(target.headers)) if (k.toLowerCase() !== 'host') lines.push(`wrk.headers["${k}"] = [==[${v}]==]`);
  await writeFile(script, lines.join('\n'));
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, `${target.url.origin}/`], { encoding: 'utf8' });
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rate: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50: /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '-',
    p99: /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '-',
    errors: Number(non2xx) + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
    count: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
  };
}

async function loadWithNode(target: Target, connections: number): Promise<Omit<LoadResult, 'cpuUs'> & { count: number }> {
  const client = target.url.protocol === 'https:' ? https : http;
  const agent = new client.Agent({ keepAlive: true, maxSockets: connections, rejectUnauthorized: false });
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = client.request(target.url, { method: 'POST', headers: target.headers, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) errors++;
          latencies.push(performance.now() - t0);
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(target.body);
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) await one();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => `${latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!.toFixed(2)}ms`;
  return { rate: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), errors, count: latencies.length };
}

/** A bare comparison server (scripts/bare-server.ts) as its own process. */
async function startBare(mode: 'node' | 'express'): Promise<{ pid: number | undefined; endpoint: string; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/bare-server.ts'), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bare ${mode} server exited with ${code}`)));
  });
  return { pid: child.pid, endpoint: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

const COLUMNS = `${'operation'.padEnd(26)} ${'conns'.padStart(5)} ${'req/s'.padStart(8)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'CPU µs/req'.padStart(10)} ${'×node:http'.padStart(10)} ${'×express'.padStart(9)}`;

function row(name: string, connections: number, r: LoadResult, bare?: { node: LoadResult; express: LoadResult }): string {
  const ratio = (b: LoadResult | undefined) => (b ? (r.rate / b.rate).toFixed(2) : '');
  const errors = r.errors > 0 ? `   errors ${r.errors}` : '';
  return `${name.padEnd(26)} ${String(connections).padStart(5)} ${r.rate.toFixed(0).padStart(8)} ${r.p50.padStart(9)} ${r.p99.padStart(9)} ${(r.cpuUs?.toFixed(0) ?? '-').padStart(10)} ${ratio(bare?.node).padStart(10)} ${ratio(bare?.express).padStart(9)}${errors}`;
}

/** The service's environment for --tls: a development certificate made by the project's script. */
async function tlsEnvironment(dir: string): Promise<Record<string, string>> {
  if (!args.tls) return {};
  execFileSync('bash', [path.join(root, 'scripts/dev-cert.sh'), dir], { stdio: 'ignore' });
  return { KMS_TLS_CERT_FILE: path.join(dir, 'cert.pem'), KMS_TLS_KEY_FILE: path.join(dir, 'key.pem') };
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-bench-'));
  const service = spawnService(dataDir, credentials, await tlsEnvironment(path.join(dataDir, 'tls')));
  const bare = { node: await startBare('node'), express: await startBare('express') };
  try {
    const endpoint = await service.url;
    const pid = service.child.pid;
    const client = new KMSClient({ endpoint, region: 'us-east-1', credentials, requestHandler: { httpsAgent: new https.Agent({ rejectUnauthorized: false }) } });
    const keyId = (await createKey(client)).KeyId!;
    const signingKeyId = (await createKey(client, { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).KeyId!;
    const blob = (await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(32, 1), EncryptionContext: { a: 'b' } }))).CiphertextBlob!;
    client.destroy();
    const operations: Array<[string, Target]> = [
      ['Encrypt (32 B)', await signed(endpoint, 'Encrypt', { KeyId: keyId, Plaintext: Buffer.alloc(32, 1).toString('base64'), EncryptionContext: { a: 'b' } })],
      ['Encrypt (1 KiB)', await signed(endpoint, 'Encrypt', { KeyId: keyId, Plaintext: Buffer.alloc(1024, 1).toString('base64') })],
      ['Decrypt (32 B)', await signed(endpoint, 'Decrypt', { CiphertextBlob: Buffer.from(blob).toString('base64'), EncryptionContext: { a: 'b' } })],
      ['GenerateDataKey AES_256', await signed(endpoint, 'GenerateDataKey', { KeyId: keyId, KeySpec: 'AES_256' })],
      ['Sign ECC_NIST_P256', await signed(endpoint, 'Sign', { KeyId: signingKeyId, Message: Buffer.alloc(32, 7).toString('base64'), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })],
    ];
    console.log(`hsm-kms ${args.tls ? 'over HTTPS' : 'over HTTP'}, ${seconds} s a run, load from ${wrk ? 'wrk' : 'node:http (install wrk for a lighter load generator)'}, ${os.cpus().length} cores shared by server and load; audit trail on`);
    await load(operations[0]![1], 16, pid, dataDir); // warm-up: JIT, caches, connections
    console.log(COLUMNS);
    const bareTarget = (endpoint: string): Target => ({ url: new URL(endpoint), headers: { 'content-type': 'application/x-amz-json-1.1' }, body: operations[0]![1].body });
    for (const connections of connectionCounts) {
      const bareRuns = {
        node: await load(bareTarget(bare.node.endpoint), connections, bare.node.pid, dataDir),
        express: await load(bareTarget(bare.express.endpoint), connections, bare.express.pid, dataDir),
      };
      console.log(row('bare node:http', connections, bareRuns.node));
      console.log(row('bare express 5', connections, bareRuns.express));
      for (const [name, target] of operations) console.log(row(name, connections, await load(target, connections, pid, dataDir), bareRuns));
    }
    if (!args.quick) await auditCost(pid, operations[0]![1], dataDir);
  } finally {
    bare.node.stop();
    bare.express.stop();
    await service.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  if (!args.quick) await rawTokenRate();
}

/**
 * Encrypt with and without the audit trail, in the same run: a second service
 * with KMS_AUDIT=off, the two measured in turn, round after round; the cost is
 * the median of the rounds' ratios, which a noisy shared machine moves least.
 */
async function auditCost(pid: number | undefined, audited: Target, dir: string): Promise<void> {
  const offDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-bench-noaudit-'));
  const off = spawnService(offDir, credentials, { KMS_AUDIT: 'off', ...(await tlsEnvironment(path.join(offDir, 'tls'))) });
  try {
    const offEndpoint = await off.url;
    const offClient = new KMSClient({ endpoint: offEndpoint, region: 'us-east-1', credentials, requestHandler: { httpsAgent: new https.Agent({ rejectUnauthorized: false }) } });
    const offKeyId = (await createKey(offClient)).KeyId!;
    offClient.destroy();
    const without = await signed(offEndpoint, 'Encrypt', { ...(JSON.parse(audited.body) as object), KeyId: offKeyId });
    await load(without, AUDIT_CONNECTIONS, off.child.pid, dir); // warm-up
    const rounds: Array<[LoadResult, LoadResult]> = [];
    for (let i = 0; i < AUDIT_ROUNDS; i++) {
      // Alternate which goes first, so that the machine's drift hits both alike.
      const on = () => load(audited, AUDIT_CONNECTIONS, pid, dir);
      const offRun = () => load(without, AUDIT_CONNECTIONS, off.child.pid, dir);
      if (i % 2 === 0) rounds.push([await on(), await offRun()]);
      else {
        const b = await offRun();
        rounds.push([await on(), b]);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const typical = (i: 0 | 1): LoadResult => {
      const results = rounds.map((r) => r[i]);
      const rate = median(results.map((r) => r.rate));
      return { ...results.find((r) => r.rate === rate)!, cpuUs: median(results.map((r) => r.cpuUs ?? Number.NaN)) };
    };
    console.log(`\nWhat auditing costs (Encrypt 32 B, ${AUDIT_CONNECTIONS} connections, ${AUDIT_ROUNDS} alternating rounds; median round of each, median server CPU):`);
    console.log(COLUMNS);
    console.log(row('audit on', AUDIT_CONNECTIONS, typical(0)));
    console.log(row('audit off (KMS_AUDIT=off)', AUDIT_CONNECTIONS, typical(1)));
    const ratios = rounds.map(([a, b]) => a.rate / b.rate);
    console.log(`throughput cost of auditing: ${((1 - median(ratios)) * 100).toFixed(1)}% (median of the rounds' on/off ratios; target: at most 15%)`);
    for (const [i, [a, b]] of rounds.entries()) console.log(`  round ${i + 1}: on ${a.rate.toFixed(0)} req/s p99 ${a.p99}, off ${b.rate.toFixed(0)} req/s p99 ${b.p99}`);
  } finally {
    await off.stop();
    await rm(offDir, { recursive: true, force: true });
  }
}

/** Operations per second with 8 calls in flight, straight on the token (no HTTP, no service around it). */
async function rate(name: string, op: () => Promise<void>): Promise<void> {
  const deadline = performance.now() + seconds * 1000;
  let n = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (performance.now() < deadline) {
        await op();
        n++;
      }
    }),
  );
  console.log(`${name.padEnd(26)} ${(n / ((performance.now() - started) / 1000)).toFixed(0).padStart(8)} ops/s   (Pkcs11Token, 8 in flight, no HTTP)`);
}

async function rawTokenRate(): Promise<void> {
  const kms = await startTestService();
  const { service } = kms;
  try {
    const keyId = (await createKey(kms.client)).KeyId!;
    const signingKey = (await createKey(kms.client, { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).KeyId!;
    await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('warm') }));
    const ref = { keyId, version: 1 };
    const plaintext = Buffer.alloc(32, 1);
    const aad = Buffer.alloc(35);
    console.log('');
    await rate('token AES-GCM (raw)', async () => {
      await service.token.encrypt(ref, await service.ivs.next(), aad, plaintext);
    });
    const digest = Buffer.alloc(32, 7);
    await rate('token ECDSA P-256 (raw)', async () => {
      await service.token.signDigest({ keyId: signingKey, version: 1 }, { hash: 'sha256', digestBytes: 32, padding: 'ECDSA' }, digest);
    });
  } finally {
    await kms.cleanup();
  }
}

await main();
