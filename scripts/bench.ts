/**
 * Measures request throughput of the running service over real HTTP, next to the
 * raw rate of the same AES-GCM operation on the token.
 *
 *   node --import tsx scripts/bench.ts [seconds=5] [concurrency=32]
 *
 * The service runs as its own process (as in production) on a throwaway token and
 * database; the load comes from this process over loopback with keep-alive.
 * Requests are signed once and replayed: SigV4 verification still runs on each,
 * and the service writes its usual log line per request (drained by this process).
 */
import { execFileSync } from 'node:child_process';
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
async function loadWithWrk(name: string, request: Awaited<ReturnType<typeof signed>>, dir: string, quiet: boolean): Promise<void> {
  const script = path.join(dir, `${name.replace(/\W+/g, '-')}.lua`);
  const lines = ['wrk.method = "POST"', `wrk.body = [==[${request.body}]==]`];
  for (const [k, v] of Object.entries(request.headers)) if (k.toLowerCase() !== 'host') lines.push(`wrk.headers["${k}"] = [==[${v}]==]`);
  await writeFile(script, lines.join('\n'));
  const out = execFileSync('wrk', ['-t1', `-c${concurrency}`, `-d${seconds}s`, '--latency', '-s', script, `http://${request.host}:${request.port}/`], { encoding: 'utf8' });
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1];
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1];
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  if (!quiet) console.log(`${name.padEnd(24)} ${Number(rate).toFixed(0).padStart(7)} req/s   p50 ${p50}   p99 ${p99}   errors ${non2xx}`);
}

/** Replays the signed request for the set time and prints its rate (unless quiet, as for a warm-up). */
async function load(name: string, request: Awaited<ReturnType<typeof signed>>, dir: string, quiet = false): Promise<void> {
  if (wrk) return loadWithWrk(name, request, dir, quiet);
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
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!.toFixed(2);
  if (!quiet) console.log(`${name.padEnd(24)} ${(latencies.length / elapsed).toFixed(0).padStart(7)} req/s   p50 ${q(0.5)} ms   p99 ${q(0.99)} ms   errors ${errors}`);
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
try {
  const endpoint = await child.url;
  const client = new KMSClient({ endpoint, region: 'us-east-1', credentials });
  const { keyId, signingKeyId, rsaKeyId } = await createBenchKeys(client);
  const blob = (await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(32, 1), EncryptionContext: { a: 'b' } }))).CiphertextBlob!;
  client.destroy();
  console.log(`hsm-kms over HTTP: ${concurrency} connections, ${seconds} s each, load from ${wrk ? 'wrk' : 'node:http (install wrk for a lighter load generator)'}, ${os.cpus().length} cores shared by server and load`);
  // Warm-up (JIT, connection set-up, caches), not reported.
  const warm = await signed(endpoint, 'Encrypt', { KeyId: keyId, Plaintext: Buffer.alloc(32, 1).toString('base64'), EncryptionContext: { a: 'b' } });
  await load('warm-up', warm, dataDir, true);
  await load('Encrypt (32 B)', await signed(endpoint, 'Encrypt', { KeyId: keyId, Plaintext: Buffer.alloc(32, 1).toString('base64'), EncryptionContext: { a: 'b' } }), dataDir);
  await load('Decrypt (32 B)', await signed(endpoint, 'Decrypt', { CiphertextBlob: Buffer.from(blob).toString('base64'), EncryptionContext: { a: 'b' } }), dataDir);
  await load('GenerateDataKey AES_256', await signed(endpoint, 'GenerateDataKey', { KeyId: keyId, KeySpec: 'AES_256' }), dataDir);
  await load('Sign ECC_NIST_P256', await signed(endpoint, 'Sign', { KeyId: signingKeyId, Message: Buffer.alloc(32, 7).toString('base64'), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }), dataDir);
  await load('Sign RSA_2048 PKCS1', await signed(endpoint, 'Sign', { KeyId: rsaKeyId, Message: Buffer.alloc(32, 7).toString('base64'), MessageType: 'DIGEST', SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }), dataDir);
  await load('GenerateRandom (32 B)', await signed(endpoint, 'GenerateRandom', { NumberOfBytes: 32 }), dataDir);
} finally {
  await child.stop();
  await rm(dataDir, { recursive: true, force: true });
}
await rawTokenRate();
