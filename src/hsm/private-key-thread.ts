import type * as P11 from 'pkcs11js';
import { throttled } from '../domain/errors.js';
import { BackgroundThread } from '../threads/background-thread.js';
import { revivePkcs11Error } from './keygen-thread.js';

interface PrivateKeyJob {
  readonly operation: 'sign' | 'decrypt';
  readonly handle: Buffer;
  readonly mechanism: P11.Mechanism;
  readonly input: Buffer;
}

/**
 * RSA private-key work (an RSA_4096 signature is milliseconds of CPU): one at a
 * time on a background thread of its own at the lowest priority
 * (private-key-worker.cjs), so that a caller signing or decrypting in a loop
 * takes neither libuv's threads nor the cores from the fast calls. At most
 * `maxWaiting` wait; past that the caller is throttled.
 */
export class PrivateKeyThread {
  private readonly thread: BackgroundThread<PrivateKeyJob, Uint8Array>;

  constructor(modulePath: string, slot: Buffer, maxWaiting = 64) {
    this.thread = new BackgroundThread(new URL('./private-key-worker.cjs', import.meta.url), { modulePath, slot }, maxWaiting, throttled, revivePkcs11Error);
  }

  async run(job: PrivateKeyJob): Promise<Buffer> {
    const out = await this.thread.run(job);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
