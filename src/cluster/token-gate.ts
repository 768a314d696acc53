import type { TokenChangeGate } from '../hsm/change-gate.js';
import type { Serialized } from '../services/ports/index.js';

/**
 * The primary's side of the token's change gate: one holder at a time, in the
 * order asked, among the workers and the primary itself (its background jobs
 * create and destroy key material too). A worker that dies loses its place and
 * whatever it held.
 */
export class GateKeeper {
  private holder: string | undefined;
  private readonly queue: Array<{ readonly owner: string; readonly grant: () => void }> = [];

  acquire(owner: string, grant: () => void): void {
    this.queue.push({ owner, grant });
    this.pump();
  }

  release(owner: string): void {
    if (this.holder !== owner) return;
    this.holder = undefined;
    this.pump();
  }

  /** Everything held or asked for by owners with this prefix (one worker's) is let go. */
  forget(prefix: string): void {
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]!.owner.startsWith(prefix)) this.queue.splice(i, 1);
    if (this.holder?.startsWith(prefix)) {
      this.holder = undefined;
      this.pump();
    }
  }

  /** The primary's own gate. */
  readonly local: TokenChangeGate = {
    exclusive: async <T>(work: () => Promise<T>): Promise<T> => {
      await new Promise<void>((resolve) => this.acquire('primary', resolve));
      try {
        return await work();
      } finally {
        this.release('primary');
      }
    },
  };

  private pump(): void {
    if (this.holder !== undefined) return;
    const next = this.queue.shift();
    if (!next) return;
    this.holder = next.owner;
    next.grant();
  }
}

/**
 * The token's change gate of instances that share one database (and so one
 * token): this process's own gate first (the workers' of one instance), then the
 * database's lock, bound once the database is open (nothing changes the token's
 * objects before that).
 */
export class InstancesGate implements TokenChangeGate {
  private serialized: Serialized | undefined;

  constructor(private readonly local: TokenChangeGate | undefined) {}

  bind(serialized: Serialized): void {
    this.serialized = serialized;
  }

  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const acrossInstances = () => (this.serialized ? this.serialized('token-changes', work) : work());
    return this.local ? this.local.exclusive(acrossInstances) : acrossInstances();
  }
}
