import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moduleForFaults } from '../support/fault-injection.js';
import { pkcs11js } from '../../src/hsm/pkcs11js.js';
import { startTestService, type TestService } from '../support/service.js';

/**
 * The token layer on the HSM's bad days, by fault injection on the process's one
 * loaded module (a test double of PKCS#11 calls, in front of the real SoftHSM):
 * token calls made asynchronously, as for a network HSM, with short bounds.
 */
let kms: TestService;
let releaseModule: (() => void) | undefined;
let keyId: string;
const log: string[] = [];

/** What the next calls do instead of their work. */
const faults = {
  /** Each asynchronous encryption waits this long first. */
  delayMs: 0,
  /** The next asynchronous encryption fails with this return code. */
  failNextWith: undefined as number | undefined,
  /** Asynchronous encryptions fail with CKR_DEVICE_ERROR, and the module will not initialise. */
  deviceDown: false,
  /** The next asynchronous encryption never returns. */
  hangNext: false,
  encryptCalls: 0,
  initializeCalls: 0,
};

const fail = (code: number) => new pkcs11js.Pkcs11Error(`fault ${code}`, code, 'injected');
const errorName = (p: Promise<unknown>) => p.then(() => 'served', (e: { name?: string }) => e.name);
const encrypt = () => kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('on a bad day') }));

async function servedWithin(ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    if ((await errorName(encrypt())) === 'served') return true;
  }
  return false;
}

beforeAll(async () => {
  const injected = await moduleForFaults();
  releaseModule = injected.release;
  const { dataDir, lib } = injected;
  const encryptAsync = lib.C_EncryptAsync.bind(lib);
  const initialize = lib.C_Initialize.bind(lib);
  lib.C_EncryptAsync = (async (session: Buffer, data: Buffer, out: Buffer) => {
    faults.encryptCalls++;
    if (faults.delayMs > 0) await new Promise((r) => setTimeout(r, faults.delayMs));
    if (faults.hangNext) {
      faults.hangNext = false;
      return new Promise<never>(() => undefined);
    }
    if (faults.deviceDown) throw fail(pkcs11js.CKR_DEVICE_ERROR);
    const code = faults.failNextWith;
    faults.failNextWith = undefined;
    if (code !== undefined) throw fail(code);
    return encryptAsync(session, data, out);
  }) as typeof lib.C_EncryptAsync;
  lib.C_Initialize = ((options?: Parameters<typeof lib.C_Initialize>[0]) => {
    faults.initializeCalls++;
    if (faults.deviceDown) throw fail(pkcs11js.CKR_DEVICE_ERROR);
    return initialize(options);
  }) as typeof lib.C_Initialize;
  kms = await startTestService({
    dataDir,
    logLines: log,
    config: { pkcs11: { sessions: 2, synchronousSmallOperations: false, sessionWaitMs: 150, maxWaiting: 8, callTimeoutMs: 700 } },
  });
  keyId = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  await encrypt();
});

afterAll(async () => {
  await kms?.cleanup();
  releaseModule?.();
});

describe('the token layer on a bad day', () => {
  it('bounds the wait for a session: a caller finds none in time and is told to retry, the others are served', async () => {
    faults.delayMs = 400;
    try {
      const answers = await Promise.all([encrypt(), encrypt(), encrypt()].map(errorName));
      expect(answers.sort()).toEqual(['DependencyTimeoutException', 'served', 'served']);
    } finally {
      faults.delayMs = 0;
    }
    expect(kms.service.token.sessionGauges).toMatchObject({ size: 2, inUse: 0, waiting: 0 });
  });

  it('replaces a session the token invalidated in the middle of a request', async () => {
    faults.failNextWith = pkcs11js.CKR_SESSION_HANDLE_INVALID;
    expect(await errorName(encrypt())).toBe('KMSInternalException');
    expect(await errorName(encrypt())).toBe('served');
    expect(kms.service.token.recoveries).toBe(0);
  });

  it('gives up on a call that never returns, answers DependencyTimeoutException, and initialises the module again', async () => {
    faults.hangNext = true;
    const started = Date.now();
    expect(await errorName(encrypt())).toBe('DependencyTimeoutException');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await servedWithin(5_000)).toBe(true);
    expect(kms.service.token.recoveries).toBe(1);
  });

  it('answers KeyUnavailableException while the device is lost, without calling it, and serves again once it is back', async () => {
    faults.deviceDown = true;
    expect(await errorName(encrypt())).toBe('KeyUnavailableException');
    const callsWhileDown = faults.encryptCalls;
    for (let i = 0; i < 5; i++) expect(await errorName(encrypt())).toBe('KeyUnavailableException');
    // Nothing reaches the device while the module is being initialised again.
    expect(faults.encryptCalls).toBe(callsWhileDown);
    // The module does not come back while the device is down: attempts back off.
    await new Promise((r) => setTimeout(r, 700));
    const attempts = faults.initializeCalls;
    expect(attempts).toBeGreaterThanOrEqual(2);
    faults.deviceDown = false;
    expect(await servedWithin(10_000)).toBe(true);
    expect(kms.service.token.recoveries).toBe(2);
    expect(log.some((l) => l.includes('the token is back'))).toBe(true);
    expect(log.some((l) => l.includes('the token is still unavailable'))).toBe(true);
  });
});
