/** Why a caller got no session: it waited too long, or too many were waiting already. */
export class SessionUnavailable extends Error {
  constructor(readonly reason: 'wait-timeout' | 'queue-full' | 'closed' | 'hung') {
    super(`no token session: ${reason}`);
  }
}

export interface SessionPoolLimits {
  /** Open sessions at most. */
  readonly size: number;
  /** How long a caller waits for a session before it is refused. */
  readonly waitMs: number;
  /** Callers waiting at most; the next one is refused at once. */
  readonly maxWaiting: number;
  /** How long one piece of work may hold a session (asynchronous calls only; 0: no limit). */
  readonly callTimeoutMs: number;
}

interface Waiter {
  resolve(session: Buffer): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
}

export interface PoolGauges {
  readonly size: number;
  readonly open: number;
  readonly inUse: number;
  readonly waiting: number;
}

/**
 * A bounded number of open sessions. A PKCS#11 session runs one operation at a
 * time, so each caller borrows one for the length of its init+operation pair.
 * Waiting is bounded in time and in length, never a queue without end; work
 * that outlives its time leaves its session behind (it may never come back) and
 * answers SessionUnavailable('hung').
 */
export class SessionPool {
  private readonly idle: Buffer[] = [];
  private readonly waiting: Waiter[] = [];
  private open = 0;
  private lent = 0;
  private closed = false;
  private drained: (() => void) | undefined;
  /** Moves on reset: sessions opened before it are closed when they come back, never lent again. */
  private generation = 0;
  private readonly generationOf = new Map<Buffer, number>();

  constructor(
    private readonly limits: SessionPoolLimits,
    private openSession: () => Buffer,
    private readonly closeSession: (session: Buffer) => void,
  ) {}

  get gauges(): PoolGauges {
    return { size: this.limits.size, open: this.open, inUse: this.lent, waiting: this.waiting.length };
  }

  async use<T>(work: (session: Buffer) => T | Promise<T>, shouldEvict: (e: unknown) => boolean): Promise<T> {
    const session = await this.acquire();
    this.lent++;
    let evict = false;
    let abandoned = false;
    try {
      const result = work(session);
      if (!(result instanceof Promise) || this.limits.callTimeoutMs === 0) return await result;
      return await new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          abandoned = true;
          reject(new SessionUnavailable('hung'));
        }, this.limits.callTimeoutMs);
        result.then(
          (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          (e: unknown) => {
            clearTimeout(timer);
            reject(e);
          },
        );
      });
    } catch (e) {
      evict = shouldEvict(e);
      throw e;
    } finally {
      this.lent--;
      // A session still inside a call that never returned cannot be lent again, nor closed under the call.
      if (abandoned) this.forget(session);
      else this.release(session, evict);
    }
  }

  private acquire(): Promise<Buffer> {
    if (this.closed) return Promise.reject(new SessionUnavailable('closed'));
    const session = this.idle.pop();
    if (session) return Promise.resolve(session);
    if (this.open < this.limits.size) {
      this.open++;
      try {
        const opened = this.openSession();
        this.generationOf.set(opened, this.generation);
        return Promise.resolve(opened);
      } catch (e) {
        this.open--;
        return Promise.reject(e);
      }
    }
    if (this.waiting.length >= this.limits.maxWaiting) return Promise.reject(new SessionUnavailable('queue-full'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const at = this.waiting.indexOf(waiter);
          if (at >= 0) this.waiting.splice(at, 1);
          reject(new SessionUnavailable('wait-timeout'));
        }, this.limits.waitMs),
      };
      this.waiting.push(waiter);
    });
  }

  private nextWaiter(): Waiter | undefined {
    const next = this.waiting.shift();
    if (next) clearTimeout(next.timer);
    return next;
  }

  private release(session: Buffer, evict: boolean): void {
    const stale = this.generationOf.get(session) !== this.generation;
    if (evict || stale || this.closed) {
      this.forget(session);
      try {
        this.closeSession(session);
      } catch {
        // The session is already gone; nothing is left to free.
      }
      return;
    }
    const next = this.nextWaiter();
    if (next) next.resolve(session);
    else this.idle.push(session);
  }

  /** Gives a session's place up: to the next waiter, with a fresh session. */
  private forget(session: Buffer): void {
    this.open--;
    this.generationOf.delete(session);
    if (this.closed) {
      if (this.open === 0) this.drained?.();
      return;
    }
    const next = this.nextWaiter();
    if (next) this.acquire().then(next.resolve, next.reject);
  }

  /**
   * After the module was initialised again: sessions open before are dead.
   * Idle ones are dropped at once, lent ones when they come back, and new ones
   * are opened with the given opener.
   */
  reset(openSession: () => Buffer): void {
    this.generation++;
    this.openSession = openSession;
    for (const s of this.idle.splice(0)) {
      this.open--;
      this.generationOf.delete(s);
      try {
        this.closeSession(s);
      } catch {
        // Already gone with the module's state.
      }
    }
  }

  /**
   * Closes idle sessions at once and lent ones as they come back, and resolves when
   * none is left (or after timeoutMs): finalising the module under a running call
   * could crash the process.
   */
  close(timeoutMs = 5_000): Promise<void> {
    this.closed = true;
    for (let w = this.nextWaiter(); w; w = this.nextWaiter()) w.reject(new SessionUnavailable('closed'));
    for (const s of this.idle.splice(0)) {
      this.open--;
      try {
        this.closeSession(s);
      } catch {
        // Closing on shutdown: a failure changes nothing.
      }
    }
    if (this.open === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
