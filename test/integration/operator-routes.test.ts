import { createServer } from 'node:net';
import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moduleForFaults } from '../support/fault-injection.js';
import { pkcs11js } from '../../src/hsm/pkcs11js.js';
import { startTestService, type TestService } from '../support/service.js';

/**
 * /healthz, /readyz and /metrics on a running service. Faults are injected on
 * the process's one loaded module (the token) and on the store's ping (the
 * database), as a test double in front of the real parts.
 */
let kms: TestService;
let releaseModule: (() => void) | undefined;
let keyId: string;
const faults = { deviceDown: false };

const get = async (url: string) => {
  const response = await fetch(url);
  return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
};

/** The value of one series in Prometheus's text format (0 when absent). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (await check()) return true;
  return false;
}

beforeAll(async () => {
  const injected = await moduleForFaults();
  releaseModule = injected.release;
  const { dataDir, lib } = injected;
  const encrypt = lib.C_Encrypt.bind(lib);
  const initialize = lib.C_Initialize.bind(lib);
  lib.C_Encrypt = ((session: Buffer, data: Buffer, out: Buffer) => {
    if (faults.deviceDown) throw new pkcs11js.Pkcs11Error('fault', pkcs11js.CKR_DEVICE_REMOVED, 'injected');
    return encrypt(session, data, out);
  }) as typeof lib.C_Encrypt;
  lib.C_Initialize = ((options?: Parameters<typeof lib.C_Initialize>[0]) => {
    if (faults.deviceDown) throw new pkcs11js.Pkcs11Error('fault', pkcs11js.CKR_DEVICE_REMOVED, 'injected');
    return initialize(options);
  }) as typeof lib.C_Initialize;
  kms = await startTestService({ dataDir });
  keyId = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
});

afterAll(async () => {
  await kms?.cleanup();
  releaseModule?.();
});

describe('the operator\'s routes', () => {
  it('say alive and ready, unauthenticated, and nothing more', async () => {
    expect(await get(`${kms.endpoint}/healthz`)).toMatchObject({ status: 200, text: '{"status":"ok"}' });
    expect(await get(`${kms.endpoint}/readyz`)).toMatchObject({ status: 200, text: '{"status":"ready"}' });
  });

  it('publish Prometheus metrics that move under load', async () => {
    const before = (await get(`${kms.endpoint}/metrics`)).text;
    for (let i = 0; i < 20; i++) {
      const { CiphertextBlob } = await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(`load ${i}`) }));
      await kms.client.send(new DecryptCommand({ CiphertextBlob }));
    }
    await kms.client.send(new EncryptCommand({ KeyId: 'alias/none', Plaintext: Buffer.from('x') })).catch(() => undefined);
    const scrape = await get(`${kms.endpoint}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.type).toMatch(/^text\/plain/);
    const after = scrape.text;
    const moved = (series: string) => sample(after, series) - sample(before, series);
    expect(moved('kms_requests_total{operation="Encrypt",outcome="Success"}')).toBe(20);
    expect(moved('kms_requests_total{operation="Decrypt",outcome="Success"}')).toBe(20);
    expect(moved('kms_requests_total{operation="Encrypt",outcome="NotFoundException"}')).toBe(1);
    expect(moved('kms_request_duration_seconds_count{operation="Encrypt"}')).toBe(21);
    expect(moved('kms_token_call_duration_seconds_count{operation="encrypt",outcome="ok"}')).toBe(20);
    expect(moved('kms_cache_lookups_total{cache="keys",result="hit"}')).toBeGreaterThanOrEqual(39);
    expect(sample(after, 'kms_token_sessions{state="size"}')).toBe(8);
    expect(sample(after, 'kms_token_sessions{state="waiting"}')).toBe(0);
    expect(sample(after, 'kms_token_available')).toBe(1);
    expect(sample(after, 'kms_keys{state="Enabled"}')).toBe(1);
    expect(sample(after, 'kms_audit_fsync_duration_seconds_count')).toBeGreaterThan(0);
    expect(sample(after, 'kms_database_call_duration_seconds_count{method="insertProvisioningKey"}')).toBe(1);
    expect(after).toContain('process_cpu_user_seconds_total');
    // Secrets stay secret: no key material, no credential in the page.
    expect(after).not.toContain('test-secret-access-key');
  });

  it('turn unready while the token is lost, and ready again when it is back', async () => {
    faults.deviceDown = true;
    try {
      await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })).catch(() => undefined);
      expect(await until(async () => (await get(`${kms.endpoint}/readyz`)).status === 503, 3_000)).toBe(true);
      expect((await get(`${kms.endpoint}/readyz`)).text).toBe('{"status":"unready"}');
      expect(sample((await get(`${kms.endpoint}/metrics`)).text, 'kms_token_available')).toBe(0);
    } finally {
      faults.deviceDown = false;
    }
    expect(await until(async () => (await get(`${kms.endpoint}/readyz`)).status === 200, 10_000)).toBe(true);
    expect(sample((await get(`${kms.endpoint}/metrics`)).text, 'kms_token_recoveries_total')).toBe(1);
  });

  it('turn unready while the database does not answer, and ready again when it does', async () => {
    const store = kms.service.store as { ping: () => Promise<void> };
    const ping = store.ping;
    store.ping = () => Promise.reject(new Error('database unreachable (injected)'));
    try {
      expect(await until(async () => (await get(`${kms.endpoint}/readyz`)).status === 503, 3_000)).toBe(true);
      // Alive all the same.
      expect((await get(`${kms.endpoint}/healthz`)).status).toBe(200);
    } finally {
      store.ping = ping;
    }
    expect(await until(async () => (await get(`${kms.endpoint}/readyz`)).status === 200, 3_000)).toBe(true);
  });
});

describe('the operator\'s routes on a port of their own (KMS_OPERATOR_PORT)', () => {
  it('answer there and not on the service\'s port', async () => {
    const operatorPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const separate = await startTestService({ dataDir: kms.dataDir, config: { operatorPort } });
    try {
      expect((await get(`http://127.0.0.1:${operatorPort}/readyz`)).status).toBe(200);
      expect((await get(`http://127.0.0.1:${operatorPort}/metrics`)).text).toContain('kms_requests_total');
      expect((await get(`${separate.endpoint}/metrics`)).status).toBeGreaterThanOrEqual(400);
    } finally {
      await separate.stop();
    }
  });
});
