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
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Sha256 } from '@aws-crypto/sha256-js';
import { CreateKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { pino } from 'pino';
import { startService } from '../src/app.js';
import { parseConfig } from '../src/config/config.js';

const seconds = Number(process.argv[2] ?? 5);
const concurrency = Number(process.argv[3] ?? 32);
const credentials = { accessKeyId: 'AKIABENCHMARK0000001', secretAccessKey: 'bench-secret-access-key-0123456789' };
const root = path.resolve(import.meta.dirname, '..');

async function startChild(dataDir: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, KMS_DATA_DIR: dataDir, KMS_PORT: '0', KMS_ADMIN_ACCESS_KEY_ID: credentials.accessKeyId, KMS_ADMIN_SECRET_ACCESS_KEY: credentials.secretAccessKey },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`service exited with ${c}`)));
    let found = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (found || !line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'hsm-kms listening' && entry.url) {
        found = true;
        resolve(entry.url);
      }
    });
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

async function signed(url: string, target: string, body: object) {
  const u = new URL(url);
  const signer = new SignatureV4({ service: 'kms', region: 'us-east-1', credentials, sha256: Sha256 });
  const req = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: u.hostname,
      port: Number(u.port),
      path: '/',
      headers: { host: u.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${target}` },
      body: JSON.stringify(body),
    }),
  );
  return { headers: req.headers as Record<string, string>, body: req.body as string, port: Number(u.port), host: u.hostname };
}

function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status === 1; // wrk --version exits 1 after printing
  }
}

/** wrk (a C load generator, Debian package wrk) leaves the node process's core to the service. */
async function loadWithWrk(name: string, request: Awaited<ReturnType<typeof signed>>, dir: string): Promise<void> {
  const script = path.join(dir, `${name.replace(/\W+/g, '-')}.lua`);
  const lines = ['wrk.method = "POST"', `wrk.body = [==[${request.body}]==]`];
  for (const [k, v] of Object.entries(request.headers)) if (k.toLowerCase() !== 'host') lines.push(`wrk.headers["${k}"] = [==[${v}]==]`);
  await writeFile(script, lines.join('\n'));
  const out = execFileSync('wrk', ['-t1', `-c${concurrency}`, `-d${seconds}s`, '--latency', '-s', script, `http://${request.host}:${request.port}/`], { encoding: 'utf8' });
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1];
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1];
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  console.log(`${name.padEnd(24)} ${Number(rate).toFixed(0).padStart(7)} req/s   p50 ${p50}   p99 ${p99}   errors ${non2xx}`);
}

async function load(name: string, request: Awaited<ReturnType<typeof signed>>, dir: string): Promise<void> {
  if (hasWrk()) return loadWithWrk(name, request, dir);
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
  console.log(`${name.padEnd(24)} ${(latencies.length / elapsed).toFixed(0).padStart(7)} req/s   p50 ${q(0.5)} ms   p99 ${q(0.99)} ms   errors ${errors}`);
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
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-bench-raw-'));
  const service = await startService({ config: parseConfig({ dataDir, port: 0, logLevel: 'silent', admin: credentials }), logger: pino({ level: 'silent' }) });
  try {
    const client = new KMSClient({ endpoint: service.url, region: 'us-east-1', credentials });
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('warm') }));
    const signingKey = (await client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    const rsaKey = (await client.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    client.destroy();
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
    await service.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-bench-'));
const service = await startChild(dataDir);
try {
  const client = new KMSClient({ endpoint: service.url, region: 'us-east-1', credentials });
  const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  const signingKeyId = (await client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
  const rsaKeyId = (await client.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
  const blob = (await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(32, 1), EncryptionContext: { a: 'b' } }))).CiphertextBlob!;
  client.destroy();
  console.log(`hsm-kms over HTTP: ${concurrency} connections, ${seconds} s each, load from ${hasWrk() ? 'wrk' : 'node:http (install wrk for a lighter load generator)'}, ${os.cpus().length} cores shared by server and load`);
  // Warm-up (JIT, connection set-up, caches), not reported.
  const warm = await signed(service.url, 'Encrypt', { KeyId: keyId, Plaintext: Buffer.alloc(32, 1).toString('base64'), EncryptionContext: { a: 'b' } });
  const reported = console.log;
  console.log = () => undefined;
  await load('warm-up', warm, dataDir);
  console.log = reported;
  await load('Encrypt (32 B)', await signed(service.url, 'Encrypt', { KeyId: keyId, Plaintext: Buffer.alloc(32, 1).toString('base64'), EncryptionContext: { a: 'b' } }), dataDir);
  await load('Decrypt (32 B)', await signed(service.url, 'Decrypt', { CiphertextBlob: Buffer.from(blob).toString('base64'), EncryptionContext: { a: 'b' } }), dataDir);
  await load('GenerateDataKey AES_256', await signed(service.url, 'GenerateDataKey', { KeyId: keyId, KeySpec: 'AES_256' }), dataDir);
  await load('Sign ECC_NIST_P256', await signed(service.url, 'Sign', { KeyId: signingKeyId, Message: Buffer.alloc(32, 7).toString('base64'), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }), dataDir);
  await load('Sign RSA_2048 PKCS1', await signed(service.url, 'Sign', { KeyId: rsaKeyId, Message: Buffer.alloc(32, 7).toString('base64'), MessageType: 'DIGEST', SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }), dataDir);
  await load('GenerateRandom (32 B)', await signed(service.url, 'GenerateRandom', { NumberOfBytes: 32 }), dataDir);
} finally {
  service.stop();
  await rm(dataDir, { recursive: true, force: true });
}
await rawTokenRate();
