import type { Clock } from './ports/index.js';

interface Entry<V> {
  readonly value: V;
  readonly expires: number;
}

/** How a cache has done since start-up (metrics). */
export interface CacheStats {
  readonly name: string;
  readonly hits: number;
  readonly misses: number;
  readonly entries: number;
}

/**
 * The one cache type of the service's metadata (keys, aliases, grants,
 * credentials): entries live at most ttlMs and at most maxEntries of them are
 * kept (the oldest group goes first); entries belong to a group (a key id, an
 * access key id) that is dropped as a whole when what it caches changes; a load
 * that began before a drop does not cache what it read; concurrent loads of one
 * entry share one read.
 */
export class BoundedCache<V> {
  private readonly groups = new Map<string, Map<string, Entry<V>>>();
  private readonly loading = new Map<string, Promise<V>>();
  private entries = 0;
  /** Moves on every drop, so that a read that began before it does not cache what it read. */
  private generation = 0;
  private hits = 0;
  private misses = 0;

  constructor(
    readonly name: string,
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly maxEntries = 100_000,
  ) {}

  /** The cached value, or the loaded one; `keep` false: the value is returned but not cached (say, an unknown id). */
  get(group: string, key: string, load: () => Promise<V>, keep: (value: V) => boolean = () => true): Promise<V> {
    const now = this.clock.now().getTime();
    const hit = this.groups.get(group)?.get(key);
    if (hit && hit.expires > now) {
      this.hits++;
      return Promise.resolve(hit.value);
    }
    this.misses++;
    const id = `${group}\n${key}`;
    let pending = this.loading.get(id);
    if (!pending) {
      const generation = this.generation;
      pending = load()
        .then((value) => {
          if (generation === this.generation) {
            if (keep(value)) this.set(group, key, { value, expires: now + this.ttlMs });
            else this.remove(group, key);
          }
          return value;
        })
        .finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  /** Forgets a group's entries: what they cache changed. */
  drop(group: string): void {
    this.generation++;
    const entries = this.groups.get(group);
    if (!entries) return;
    this.entries -= entries.size;
    this.groups.delete(group);
  }

  get stats(): CacheStats {
    return { name: this.name, hits: this.hits, misses: this.misses, entries: this.entries };
  }

  private set(group: string, key: string, entry: Entry<V>): void {
    let entries = this.groups.get(group);
    if (!entries) {
      while (this.entries >= this.maxEntries && this.groups.size > 0) this.drop(this.groups.keys().next().value!);
      this.groups.set(group, (entries = new Map()));
    }
    if (!entries.has(key)) this.entries++;
    entries.set(key, entry);
  }

  private remove(group: string, key: string): void {
    const entries = this.groups.get(group);
    if (!entries?.delete(key)) return;
    this.entries--;
    if (entries.size === 0) this.groups.delete(group);
  }
}
