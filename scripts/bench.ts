/**
 * Measures request throughput of the running service over real HTTP, next to the
 * raw rate of the same AES-GCM operation on the token.
 *
 *   node --import tsx scripts/bench.ts [seconds=5] [concurrency=32]
 *
 * The service runs as its own process (as in production) on a throwaway token and
 * database; the load comes from this process over loopback with keep-alive.
 * Requests are signed once and replayed: SigV4 verification still runs on each,
 * and the service records each call in its audit trail, as in production.
 *
 * It ends with what auditing costs: Encrypt against a second service with
 * KMS_AUDIT=off, alternating with the audited one over several rounds,
 * throughput, p99 and the server's CPU time per request side by side.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { signJsonRequest } from '../src/cli/admin-client.js';
import { createKey } from '../test/support/keys.js';
import { spawnService } from '../test/support/process.js';
import { startTestService } from '../test/support/service.js';

const seconds = Number(process.argv[2] ?? 5);
/** Rounds of the audit on/off comparison. */
const AUDIT_ROUNDS = 5;
const concurrency = Number(process.argv[3] ?? 32);
const credentials = { accessKeyId: 'AKIABENCHMARK0000001', secretAccessKey: 'bench-secret-access-key-0123456789' };

async function signed(url: string, target: string, body: object) {
  const json = JSON.stringify(body);
  const { url: u, headers } = await signJsonRequest({ endpoint: url, region: 'us-east-1', ...credentials }, `TrentService.${target}`, json);
  return { headers, body: json, port: Number(u.port), host: u.hostname };
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

/** wrk (a C load generator, Debian package wrk) leaves the node process's core to the service. */
interface LoadResult {
  readonly rate: number;
  readonly p50: string;
  readonly p99: string;
  readonly errors: number;
  /** The service process's CPU time per request, in microseconds (user + system, from /proc). */
  readonly cpuUs: number | undefined;
}

function report(name: string, r: LoadResult): void {
  const cpu = r.cpuUs === undefined ? '' : `   server CPU ${r.cpuUs.toFixed(0)} µs/req`;
  console.log(`${name.padEnd(24)} ${r.rate.toFixed(0).padStart(7)} req/s   p50 ${r.p50}   p99 ${r.p99}   errors ${r.errors}${cpu}`);
}

/** CPU time (user + system) the process has used so far, in milliseconds; undefined where /proc is missing. */
function processCpuMs(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

async function loadWithWrk(request: Awaited<ReturnType<typeof signed>>, dir: string): Promise<Omit<LoadResult, 'cpuUs'> & { count: number }> {
  const script = path.join(dir, 'request.lua');
  const lines = ['wrk.method = "POST"', `wrk.body = [==[${request.body}]==]`];
  for (const [k, v] of Object.entries(request.headers)) if (k.toLowerCase() !== 'host') lines.push(`wrk.headers["${k}"] = [==[${v}]==]`);
  await writeFile(script, lines.join('\n'));
  const out = execFileSync('wrk', ['-t1', `-c${concurrency}`, `-d${seconds}s`, '--latency', '-s', script, `http://${request.host}:${request.port}/`], { encoding: 'utf8' });
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1];
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1];
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  const count = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  return { rate: Number(rate), p50: p50 ?? '-', p99: p99 ?? '-', errors: Number(non2xx), count };
}

/** Replays the signed request for the set time against the service process and measures it. */
async function load(request: Awaited<ReturnType<typeof signed>>, dir: string, pid: number | undefined): Promise<LoadResult> {
  const cpuBefore = processCpuMs(pid);
  const { count, ...result } = wrk ? await loadWithWrk(request, dir) : await loadWithNode(request);
  const cpuAfter = processCpuMs(pid);
  const cpuUs = cpuBefore === undefined || cpuAfter === undefined || count === 0 ? undefined : ((cpuAfter - cpuBefore) * 1000) / count;
  return { ...result, cpuUs };
}

async function loadWithNode(request: Awaited<ReturnType<typeof signed>>): Promise<Omit<LoadResult, 'cpuUs'> & { count: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = http.request({ host: request.host, port: request.port, method: 'POST', path: '/', headers: request.headers, agent }, (res) => {
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
      req.end(request.body);
    });
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) await one();
  }));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => `${latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!.toFixed(2)}ms`;
  return { rate: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), errors, count: latencies.length };
}

/** The keys every run measures: a symmetric key, an ECC P-256 and an RSA-2048 signing key. */
async function createBenchKeys(client: KMSClient): Promise<{ keyId: string; signingKeyId: string; rsaKeyId: string }> {
  return {
    keyId: (await createKey(client)).KeyId!,
    signingKeyId: (await createKey(client, { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).KeyId!,
    rsaKeyId: (await createKey(client, { KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' })).KeyId!,
  };
}

/** Operations per second with 8 calls in flight, straight on the token (no HTTP). */
async function rate(name: string, op: () => Promise<void>): Promise<void> {
  const deadline = performance.now() + seconds * 1000;
  let n = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (performance.now() < deadline) {
      await op();
      n++;
    }
  }));
  console.log(`${name.padEnd(24)} ${(n / ((performance.now() - started) / 1000)).toFixed(0).padStart(7)} ops/s   (Pkcs11Token, 8 in flight, no HTTP)`);
}

async function rawTokenRate(): Promise<void> {
  const kms = await startTestService();
  const { service } = kms;
  try {
    const { keyId, signingKeyId: signingKey, rsaKeyId: rsaKey } = await createBenchKeys(kms.client);
    await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('warm') }));
    const ref = { keyId, version: 1 };
    const plaintext = Buffer.alloc(32, 1);
    const aad = Buffer.alloc(35);
    await rate('token AES-GCM (raw)', async () => {
      await service.token.encrypt(ref, await service.ivs.next(), aad, plaintext);
    });
    const digest = Buffer.alloc(32, 7);
    await rate('token ECDSA P-256 (raw)', async () => {
      await service.token.signDigest({ keyId: signingKey, version: 1 }, { hash: 'sha256', digestBytes: 32, padding: 'ECDSA' }, digest);
    });
    await rate('token RSA-2048 PKCS1 (raw)', async () => {
      await service.token.signDigest({ keyId: rsaKey, version: 1 }, { hash: 'sha256', digestBytes: 32, padding: 'PKCS1' }, digest);
    });
  } finally {
    await kms.cleanup();
  }
}

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-bench-'));
const child = spawnService(dataDir, credentials);
const encrypt32 = { Plaintext: Buffer.alloc(32, 1).toString('base64'), EncryptionContext: { a: 'b' } };
try {
  const endpoint = await child.url;
  const pid = child.child.pid;
  const client = new KMSClient({ endpoint, region: 'us-east-1', credentials });
  const { keyId, signingKeyId, rsaKeyId } = await createBenchKeys(client);
  const blob = (await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(32, 1), EncryptionContext: { a: 'b' } }))).CiphertextBlob!;
  client.destroy();
  console.log(`hsm-kms over HTTP: ${concurrency} connections, ${seconds} s each, load from ${wrk ? 'wrk' : 'node:http (install wrk for a lighter load generator)'}, ${os.cpus().length} cores shared by server and load; audit trail on`);
  // Warm-up (JIT, connection set-up, caches), not reported.
  await load(await signed(endpoint, 'Encrypt', { KeyId: keyId, ...encrypt32 }), dataDir, pid);
  const run = async (name: string, target: string, body: object) => report(name, await load(await signed(endpoint, target, body), dataDir, pid));
  await run('Encrypt (32 B)', 'Encrypt', { KeyId: keyId, ...encrypt32 });
  await run('Encrypt (1 KiB)', 'Encrypt', { KeyId: keyId, Plaintext: Buffer.alloc(1024, 1).toString('base64') });
  await run('Decrypt (32 B)', 'Decrypt', { CiphertextBlob: Buffer.from(blob).toString('base64'), EncryptionContext: { a: 'b' } });
  await run('GenerateDataKey AES_256', 'GenerateDataKey', { KeyId: keyId, KeySpec: 'AES_256' });
  await run('Sign ECC_NIST_P256', 'Sign', { KeyId: signingKeyId, Message: Buffer.alloc(32, 7).toString('base64'), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' });
  await run('Sign RSA_2048 PKCS1', 'Sign', { KeyId: rsaKeyId, Message: Buffer.alloc(32, 7).toString('base64'), MessageType: 'DIGEST', SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' });
  await run('GenerateRandom (32 B)', 'GenerateRandom', { NumberOfBytes: 32 });
  await run('DescribeKey', 'DescribeKey', { KeyId: keyId });
  await auditCost(endpoint, pid, keyId);
} finally {
  await child.stop();
  await rm(dataDir, { recursive: true, force: true });
}
await rawTokenRate();

/**
 * Encrypt with and without the audit trail, in the same run: a second service
 * with KMS_AUDIT=off, the two measured in turn, round after round; the cost is
 * the median of the rounds' ratios, which a noisy shared machine moves least.
 */
async function auditCost(auditedEndpoint: string, auditedPid: number | undefined, auditedKeyId: string): Promise<void> {
  const offDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-bench-noaudit-'));
  const off = spawnService(offDir, credentials, { KMS_AUDIT: 'off' });
  try {
    const offEndpoint = await off.url;
    const offClient = new KMSClient({ endpoint: offEndpoint, region: 'us-east-1', credentials });
    const offKeyId = (await createKey(offClient)).KeyId!;
    offClient.destroy();
    const on = await signed(auditedEndpoint, 'Encrypt', { KeyId: auditedKeyId, ...encrypt32 });
    const without = await signed(offEndpoint, 'Encrypt', { KeyId: offKeyId, ...encrypt32 });
    await load(without, offDir, off.child.pid); // warm-up
    const rounds: Array<[LoadResult, LoadResult]> = [];
    for (let i = 0; i < AUDIT_ROUNDS; i++) {
      // Alternate which goes first, so that the machine's drift hits both alike.
      const pair = i % 2 === 0 ? [await load(on, offDir, auditedPid), await load(without, offDir, off.child.pid)] : [await load(without, offDir, off.child.pid), await load(on, offDir, auditedPid)].reverse();
      rounds.push(pair as [LoadResult, LoadResult]);
    }
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const typical = (i: 0 | 1): LoadResult => {
      const results = rounds.map((r) => r[i]);
      const rate = median(results.map((r) => r.rate));
      return { ...results.find((r) => r.rate === rate)!, cpuUs: median(results.map((r) => r.cpuUs ?? Number.NaN)) };
    };
    console.log(`\nWhat auditing costs (Encrypt 32 B, ${AUDIT_ROUNDS} alternating rounds; median round of each, median server CPU):`);
    report('audit on', typical(0));
    report('audit off (KMS_AUDIT=off)', typical(1));
    const ratios = rounds.map(([a, b]) => a.rate / b.rate);
    console.log(`throughput cost of auditing: ${((1 - median(ratios)) * 100).toFixed(1)}% (median of the rounds' on/off ratios; target: at most 15%)`);
    for (const [i, [a, b]] of rounds.entries()) console.log(`  round ${i + 1}: on ${a.rate.toFixed(0)} req/s p99 ${a.p99}, off ${b.rate.toFixed(0)} req/s p99 ${b.p99}`);
  } finally {
    await off.stop();
    await rm(offDir, { recursive: true, force: true });
  }
}
