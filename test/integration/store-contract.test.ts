import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
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
