import type * as P11 from 'pkcs11js';
import { throttled } from '../domain/errors.js';
import { BackgroundThread } from '../threads/background-thread.js';
import { pkcs11js } from './pkcs11js.js';

/** An error the thread carried across, as the Pkcs11Error it was where it was one (the classifier reads its code). */
export function revivePkcs11Error(e: { message: string } & Record<string, unknown>): Error {
  return e.pkcs11 ? new pkcs11js.Pkcs11Error(e.message, e.code as number, e.method as string) : new Error(e.message);
}

interface KeyPairJob {
  readonly mechanism: P11.Mechanism;
  readonly publicTemplate: P11.Template;
  readonly privateTemplate: P11.Template;
}

/**
 * The lane for slow token work: key pairs are generated one at a time on a
 * background thread of their own (keygen-worker.cjs, at the lowest priority),
 * never on the event loop, and without holding a session of the pool that fast
 * cryptography uses. At most `maxWaiting` wait; past that the caller is throttled.
 */
export class KeyGenerationThread {
  private readonly thread: BackgroundThread<KeyPairJob, { publicKey: Uint8Array; privateKey: Uint8Array }>;

  constructor(modulePath: string, slot: Buffer, maxWaiting = 64) {
    this.thread = new BackgroundThread(new URL('./keygen-worker.cjs', import.meta.url), { modulePath, slot }, maxWaiting, throttled, revivePkcs11Error);
  }

  async generateKeyPair(mechanism: P11.Mechanism, publicTemplate: P11.Template, privateTemplate: P11.Template): Promise<{ publicKey: Buffer; privateKey: Buffer }> {
    const pair = await this.thread.run({ mechanism, publicTemplate, privateTemplate });
    return { publicKey: Buffer.from(pair.publicKey), privateKey: Buffer.from(pair.privateKey) };
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
