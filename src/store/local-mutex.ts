/** Named mutual exclusion within one process: work of one name runs one at a time, in arrival order. */
export class LocalMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  held(name: string): boolean {
    return this.tails.has(name);
  }

  run<T>(name: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(name) ?? Promise.resolve();
    const result = before.then(work, work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(name, tail);
    void tail.then(() => {
      if (this.tails.get(name) === tail) this.tails.delete(name);
    });
    return result;
  }
}
