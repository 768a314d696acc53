import { describe, expect, it } from 'vitest';
import { InvalidCiphertextException, KMSInternalException } from '../../src/domain/errors.js';
import { classifyTokenError } from '../../src/hsm/pkcs11-errors.js';
import { pkcs11js } from '../../src/hsm/pkcs11js.js';
import { SessionPool } from '../../src/hsm/session-pool.js';

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
    expect(classifyTokenError(p11(pkcs11js.CKR_OPERATION_ACTIVE), 'encrypt').evictSession).toBe(true);
    const lost = classifyTokenError(p11(pkcs11js.CKR_OBJECT_HANDLE_INVALID), 'encrypt');
    expect(lost.dropHandle).toBe(true);
    expect(lost.evictSession).toBe(false);
    expect(classifyTokenError(p11(pkcs11js.CKR_USER_NOT_LOGGED_IN), 'encrypt').relogin).toBe(true);
    expect(classifyTokenError(new TypeError('boom'), 'encrypt').evictSession).toBe(true);
  });
});

describe('SessionPool', () => {
  function pool(size: number) {
    let opened = 0;
    const closed: Buffer[] = [];
    const p = new SessionPool(size, () => Buffer.from([++opened]), (s) => closed.push(s));
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
});
