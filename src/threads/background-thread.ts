import { Worker } from 'node:worker_threads';

interface Pending<R> {
  readonly resolve: (result: R) => void;
  readonly reject: (e: unknown) => void;
}

/** What a background thread answers: a result, or an error it could carry across (a message, and the fields it names). */
export type ThreadReply<R> = { readonly id: number; readonly result: R } | { readonly id: number; readonly error: { readonly message: string } & Record<string, unknown> };

/**
 * Slow work, one job at a time, on a worker thread of its own that runs at the
 * lowest scheduling priority (the thread lowers its own nice value when it
 * starts; on Linux a thread's priority is its own): when the cores are short, the
 * event loop and the threads of fast calls get them first. At most `maxWaiting`
 * jobs wait; past that the caller gets `overloaded()`. The thread starts on first
 * use and does not keep the process alive when idle.
 */
export class BackgroundThread<J, R> {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, Pending<R>>();

  constructor(
    /** The thread's script (CommonJS): answers each `{ id, job }` with a ThreadReply. */
    private readonly script: URL,
    private readonly workerData: unknown,
    private readonly maxWaiting: number,
    private readonly overloaded: () => Error,
    /** Turns an error the thread reported back into the error to throw. */
    private readonly revive: (error: { message: string } & Record<string, unknown>) => Error = (e) => new Error(e.message),
  ) {}

  run(job: J): Promise<R> {
    if (this.pending.size >= this.maxWaiting) return Promise.reject(this.overloaded());
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, job });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.script, { workerData: this.workerData });
    worker.unref();
    worker.on('message', (reply: ThreadReply<R>) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (!waiter) return;
      if ('error' in reply) waiter.reject(this.revive(reply.error));
      else waiter.resolve(reply.result);
    });
    const fail = (e: unknown) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiter of this.pending.values()) waiter.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the background thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}
