import { describe, expect, it } from 'vitest';
import { DependencyTimeoutException, InvalidCiphertextException, KeyUnavailableException, KMSInternalException } from '../../src/domain/errors.js';
import { classifyTokenError } from '../../src/hsm/pkcs11-errors.js';
import { pkcs11js } from '../../src/hsm/pkcs11js.js';
import { SessionPool, SessionUnavailable, type SessionPoolLimits } from '../../src/hsm/session-pool.js';

const p11 = (code: number) => new pkcs11js.Pkcs11Error('test', code, 'C_Test');

describe('classifyTokenError', () => {
  it('reads a failed GCM tag check as InvalidCiphertextException, only when decrypting', () => {
    for (const code of [pkcs11js.CKR_GENERAL_ERROR, pkcs11js.CKR_ENCRYPTED_DATA_INVALID, pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE]) {
      const c = classifyTokenError(p11(code), 'decrypt');
      expect(c.error).toBeInstanceOf(InvalidCiphertextException);
      expect(c.evictSession).toBe(false);
    }
    expect(classifyTokenError(p11(pkcs11js.CKR_GENERAL_ERROR), 'encrypt').error).toBeInstanceOf(KMSInternalException);
  });

  it('evicts sessions the token lost and drops handles that no longer name an object', () => {
    expect(classifyTokenError(p11(pkcs11js.CKR_SESSION_HANDLE_INVALID), 'encrypt').evictSession).toBe(true);
    expect(classifyTokenError(p11(pkcs11js.CKR_DEVICE_ERROR), 'decrypt').evictSession).toBe(true);
    for (const code of [pkcs11js.CKR_DEVICE_ERROR, pkcs11js.CKR_DEVICE_REMOVED, pkcs11js.CKR_TOKEN_NOT_PRESENT]) {
      const device = classifyTokenError(p11(code), 'encrypt');
      expect(device.resetToken).toBe(true);
      expect(device.error).toBeInstanceOf(KeyUnavailableException);
    }
    expect(classifyTokenError(p11(pkcs11js.CKR_SESSION_HANDLE_INVALID), 'encrypt').resetToken).toBe(false);
    expect(classifyTokenError(new SessionUnavailable('wait-timeout'), 'encrypt').error).toBeInstanceOf(DependencyTimeoutException);
    expect(classifyTokenError(new SessionUnavailable('hung'), 'encrypt').resetToken).toBe(true);
    expect(classifyTokenError(p11(pkcs11js.CKR_OPERATION_ACTIVE), 'encrypt').evictSession).toBe(true);
    const lost = classifyTokenError(p11(pkcs11js.CKR_OBJECT_HANDLE_INVALID), 'encrypt');
    expect(lost.dropHandle).toBe(true);
    expect(lost.evictSession).toBe(false);
    expect(classifyTokenError(p11(pkcs11js.CKR_USER_NOT_LOGGED_IN), 'encrypt').relogin).toBe(true);
    expect(classifyTokenError(new TypeError('boom'), 'encrypt').evictSession).toBe(true);
  });
});

describe('SessionPool', () => {
  function pool(size: number, bounds: Partial<SessionPoolLimits> = {}) {
    let opened = 0;
    const closed: Buffer[] = [];
    const p = new SessionPool({ size, waitMs: 5_000, maxWaiting: 100, callTimeoutMs: 0, ...bounds }, () => Buffer.from([++opened]), (s) => closed.push(s));
    return { p, closed, opened: () => opened };
  }

  it('never lends one session to two callers at once', async () => {
    const { p, opened } = pool(2);
    const inUse = new Set<number>();
    let maxInUse = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        p.use(async (s) => {
          expect(inUse.has(s[0]!)).toBe(false);
          inUse.add(s[0]!);
          maxInUse = Math.max(maxInUse, inUse.size);
          await new Promise((r) => setTimeout(r, 1));
          inUse.delete(s[0]!);
        }, () => false),
      ),
    );
    expect(maxInUse).toBe(2);
    expect(opened()).toBe(2);
  });

  it('closes an evicted session and serves waiters with a fresh one', async () => {
    const { p, closed, opened } = pool(1);
    const failing = p.use(async () => {
      throw new Error('lost');
    }, () => true);
    const waiting = p.use((s) => s[0], () => false);
    await expect(failing).rejects.toThrow('lost');
    expect(await waiting).toBe(2);
    expect(closed.map((s) => s[0])).toEqual([1]);
    expect(opened()).toBe(2);
  });

  it('rejects waiters when closed', async () => {
    const { p } = pool(1);
    let release!: () => void;
    const holder = p.use(() => new Promise<void>((r) => (release = r)), () => false);
    const waiter = p.use(() => 'never', () => false);
    p.close();
    await expect(waiter).rejects.toThrow(/closed/);
    release();
    await holder;
  });

  it('bounds the wait for a session in time and in length, and lets no refused caller hold a place', async () => {
    const { p } = pool(1, { waitMs: 30, maxWaiting: 1 });
    let release!: () => void;
    const holder = p.use(() => new Promise<void>((r) => (release = r)), () => false);
    const waiter = p.use(() => 'late', () => false);
    const refused = p.use(() => 'refused', () => false);
    await expect(refused).rejects.toMatchObject({ reason: 'queue-full' });
    await expect(waiter).rejects.toMatchObject({ reason: 'wait-timeout' });
    expect(p.gauges).toEqual({ size: 1, open: 1, inUse: 1, waiting: 0 });
    release();
    await holder;
    expect(await p.use((s) => s[0], () => false)).toBe(1);
  });

  it('gives up on a call that never returns, leaves its session behind, and serves the next caller with a fresh one', async () => {
    const { p, closed, opened } = pool(1, { callTimeoutMs: 30 });
    const hung = p.use(() => new Promise<never>(() => undefined), () => false);
    await expect(hung).rejects.toMatchObject({ reason: 'hung' });
    expect(await p.use((s) => s[0], () => false)).toBe(2);
    // Never closed under the call that may still be running.
    expect(closed).toEqual([]);
    expect(opened()).toBe(2);
  });

  it('after a reset, closes sessions of the old module as they come back and opens new ones', async () => {
    const { p, closed } = pool(2);
    await p.use(() => undefined, () => false); // one idle session (1)
    let release!: () => void;
    const lent = p.use(() => new Promise<void>((r) => (release = r)), () => false); // takes 1
    p.reset(() => Buffer.from([99]));
    expect(await p.use((s) => s[0], () => false)).toBe(99);
    release();
    await lent;
    expect(closed.map((s) => s[0])).toEqual([1]);
    expect(await p.use((s) => s[0], () => false)).toBe(99);
  });
});
