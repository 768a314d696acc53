/**
 * A fixed number of open sessions. A PKCS#11 session runs one operation at a
 * time, so each caller borrows one for the length of its init+operation pair.
 */
export class SessionPool {
  private readonly idle: Buffer[] = [];
  private readonly waiting: Array<{ resolve: (session: Buffer) => void; reject: (e: unknown) => void }> = [];
  private open = 0;
  private closed = false;
  private drained: (() => void) | undefined;

  constructor(
    private readonly size: number,
    private readonly openSession: () => Buffer,
    private readonly closeSession: (session: Buffer) => void,
  ) {}

  async use<T>(work: (session: Buffer) => T | Promise<T>, shouldEvict: (e: unknown) => boolean): Promise<T> {
    const session = await this.acquire();
    let evict = false;
    try {
      return await work(session);
    } catch (e) {
      evict = shouldEvict(e);
      throw e;
    } finally {
      this.release(session, evict);
    }
  }

  private acquire(): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('session pool is closed'));
    const session = this.idle.pop();
    if (session) return Promise.resolve(session);
    if (this.open < this.size) {
      this.open++;
      try {
        return Promise.resolve(this.openSession());
      } catch (e) {
        this.open--;
        return Promise.reject(e);
      }
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(session: Buffer, evict: boolean): void {
    if (evict || this.closed) {
      this.open--;
      try {
        this.closeSession(session);
      } catch {
        // The session is already gone; nothing is left to free.
      }
      if (this.closed && this.open === 0) this.drained?.();
      // The evicted session's place goes to the next waiter, with a fresh session.
      const next = this.waiting.shift();
      if (next) this.acquire().then(next.resolve, next.reject);
      return;
    }
    const next = this.waiting.shift();
    if (next) next.resolve(session);
    else this.idle.push(session);
  }

  /**
   * Closes idle sessions at once and lent ones as they come back, and resolves when
   * none is left (or after timeoutMs): finalising the module under a running call
   * could crash the process.
   */
  close(timeoutMs = 5_000): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new Error('session pool is closed'));
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
