import type * as P11 from 'pkcs11js';

/**
 * A fixed number of open sessions. A PKCS#11 session runs one operation at a
 * time, so each caller borrows one for the length of its init+operation pair.
 */
export class SessionPool {
  private readonly idle: Buffer[] = [];
  private readonly waiting: Array<(session: Buffer) => void> = [];
  private open = 0;
  private closed = false;

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
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(session: Buffer, evict: boolean): void {
    if (evict || this.closed) {
      this.open--;
      try {
        this.closeSession(session);
      } catch {
        // The session is already gone; nothing is left to free.
      }
      const next = this.waiting.shift();
      if (next && !this.closed) {
        this.acquire().then(next, () => this.waiting.unshift(next));
      }
      return;
    }
    const next = this.waiting.shift();
    if (next) next(session);
    else this.idle.push(session);
  }

  close(): void {
    this.closed = true;
    for (const s of this.idle.splice(0)) {
      try {
        this.closeSession(s);
      } catch {
        // Closing on shutdown: a failure changes nothing.
      }
    }
  }
}
