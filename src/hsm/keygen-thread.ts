import { Worker } from 'node:worker_threads';
import type * as P11 from 'pkcs11js';
import { throttled } from '../domain/errors.js';
import { pkcs11js } from './pkcs11js.js';

interface Pending {
  readonly resolve: (pair: { publicKey: Buffer; privateKey: Buffer }) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * The lane for slow token work: key pairs are generated one at a time on a
 * thread of their own (keygen-worker.cjs), never on the event loop, and without
 * holding a session of the pool that fast cryptography uses. At most
 * `maxWaiting` wait; past that the caller is throttled.
 */
export class KeyGenerationThread {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly modulePath: string,
    private readonly slot: Buffer,
    private readonly maxWaiting = 64,
  ) {}

  generateKeyPair(mechanism: P11.Mechanism, publicTemplate: P11.Template, privateTemplate: P11.Template): Promise<{ publicKey: Buffer; privateKey: Buffer }> {
    if (this.pending.size >= this.maxWaiting) {
      return Promise.reject(throttled());
    }
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, mechanism, publicTemplate, privateTemplate });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./keygen-worker.cjs', import.meta.url), { workerData: { modulePath: this.modulePath, slot: this.slot } });
    worker.unref(); // an idle generation thread does not keep the process alive
    worker.on('message', (m: { id: number; publicKey?: Uint8Array; privateKey?: Uint8Array; error?: { message: string; code: number; method: string; pkcs11: boolean } }) => {
      const waiter = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (!waiter) return;
      if (m.error) waiter.reject(m.error.pkcs11 ? new pkcs11js.Pkcs11Error(m.error.message, m.error.code, m.error.method) : new Error(m.error.message));
      else waiter.resolve({ publicKey: Buffer.from(m.publicKey!), privateKey: Buffer.from(m.privateKey!) });
    });
    const fail = (e: unknown) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiter of this.pending.values()) waiter.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the key generation thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}
