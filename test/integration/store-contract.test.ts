import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { freshPostgresDatabase } from '../support/postgres.js';
import { describeStoreContract } from '../support/store-contract.js';

const folders: string[] = [];
afterAll(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

describeStoreContract('SQLite', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-store-'));
  folders.push(dir);
  return new SqliteStore(path.join(dir, 'kms.sqlite'));
});

describeStoreContract('PostgreSQL', async () => PostgresStore.open(await freshPostgresDatabase()));

describe('PostgreSQL shared by several instances', () => {
  it('runs work of one name in one process at a time, and skips it where asked rather than wait', async () => {
    const url = await freshPostgresDatabase();
    const [one, two] = [await PostgresStore.open(url), await PostgresStore.open(url)];
    try {
      let release!: () => void;
      const held = one.exclusive('background-jobs', () => new Promise<void>((r) => (release = r)));
      await new Promise((r) => setTimeout(r, 100));
      expect(await two.exclusive('background-jobs', async () => 'ran', false)).toEqual({ ran: false });
      const waited = two.exclusive('background-jobs', async () => 'ran after');
      release();
      expect(await held).toEqual({ ran: true, value: undefined });
      expect(await waited).toEqual({ ran: true, value: 'ran after' });
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('carries each process\'s cache changes to the others, never back to itself', async () => {
    const url = await freshPostgresDatabase();
    const [one, two] = [await PostgresStore.open(url), await PostgresStore.open(url)];
    try {
      const heardByOne: unknown[] = [];
      const heardByTwo: unknown[] = [];
      one.changeFeed().subscribe((c) => heardByOne.push(c));
      two.changeFeed().subscribe((c) => heardByTwo.push(c));
      one.changeFeed().publish({ kind: 'key', keyId: 'k1' });
      const started = Date.now();
      while (heardByTwo.length === 0 && Date.now() - started < 2_000) await new Promise((r) => setTimeout(r, 10));
      expect(heardByTwo).toEqual([{ kind: 'key', keyId: 'k1' }]);
      expect(heardByOne).toEqual([]);
    } finally {
      await one.close();
      await two.close();
    }
  });
});
