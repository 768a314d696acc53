import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite-store.js';

const folders: string[] = [];
const stores: SqliteStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

/** Two stores on one file: what two of the service's processes (its workers) see. */
async function twoProcessesOnOneFile() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-named-locks-'));
  folders.push(dir);
  const file = path.join(dir, 'metadata.db');
  const [a, b] = [new SqliteStore(file), new SqliteStore(file)];
  stores.push(a, b);
  return { file, a, b };
}

describe('SQLite: work of one name, one process at a time', () => {
  it('makes another store on the same file wait its turn, or skip where asked', async () => {
    const { a, b } = await twoProcessesOnOneFile();
    const order: string[] = [];
    let release!: () => void;
    const holding = a.exclusive('import/k', async () => {
      order.push('a starts');
      await new Promise<void>((resolve) => (release = resolve));
      order.push('a ends');
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await b.exclusive('import/k', async () => order.push('b skipped the line'), false)).toEqual({ ran: false });
    // Another name is not held.
    expect(await b.exclusive('import/other', async () => 'free', false)).toEqual({ ran: true, value: 'free' });
    const waiting = b.exclusive('import/k', async () => order.push('b runs'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(order).toEqual(['a starts']);
    release();
    await holding;
    await waiting;
    expect(order).toEqual(['a starts', 'a ends', 'b runs']);
  });

  it('takes a lock at once from a holder that died, or that stopped renewing it', async () => {
    const { file, b } = await twoProcessesOnOneFile();
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const raw = new Database(file);
    try {
      raw.prepare('INSERT INTO named_locks (name, holder, pid, until) VALUES (?, ?, ?, ?)').run('import/dead', 'gone', dead, Date.now() + 3_600_000);
      raw.prepare('INSERT INTO named_locks (name, holder, pid, until) VALUES (?, ?, ?, ?)').run('import/stale', 'stuck', process.pid, Date.now() - 1);
      raw.prepare('INSERT INTO named_locks (name, holder, pid, until) VALUES (?, ?, ?, ?)').run('import/held', 'alive', process.pid, Date.now() + 3_600_000);
    } finally {
      raw.close();
    }
    expect(await b.exclusive('import/dead', async () => 'taken', false)).toEqual({ ran: true, value: 'taken' });
    expect(await b.exclusive('import/stale', async () => 'taken', false)).toEqual({ ran: true, value: 'taken' });
    expect(await b.exclusive('import/held', async () => 'taken', false)).toEqual({ ran: false });
    // A store opened by this process again (a restart that reused the pid) drops what its pid held before.
    const again = new SqliteStore(file);
    stores.push(again);
    expect(await b.exclusive('import/held', async () => 'taken', false)).toEqual({ ran: true, value: 'taken' });
  });

  it('keeps the work\'s outcome, and stops renewing, when the store closes under a held lock', async () => {
    const { a } = await twoProcessesOnOneFile();
    let release!: () => void;
    const holding = a.exclusive('import/k', () => new Promise<string>((resolve) => (release = () => resolve('done'))));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await a.close();
    stores.splice(stores.indexOf(a), 1);
    release();
    expect(await holding).toEqual({ ran: true, value: 'done' });
  });
});
