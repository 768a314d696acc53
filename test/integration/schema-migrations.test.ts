import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyState } from '../../src/domain/key.js';
import { SQLITE_MIGRATIONS } from '../../src/store/migrations.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-migrations.js';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { freshPostgresDatabase } from '../support/postgres.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * A database written before imported keys could hold several materials, and
 * before aliases had a region: its one material per key (keys.material_check)
 * becomes the key's first material, imported or not as the key was, its key
 * version stays, and each alias takes its target key's region.
 */
describe('the schema migrations of this release', () => {
  it('carries each imported key’s material over, imported or deleted, leaves other keys alone, and gives aliases their region', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-migration-'));
    dirs.push(dir);
    const file = path.join(dir, 'kms.sqlite');
    const before = SQLITE_MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE imported_material'));
    const db = new Database(file);
    for (let i = 0; i < before; i++) db.exec(SQLITE_MIGRATIONS[i]!);
    db.pragma(`user_version = ${before}`);
    const key = db.prepare(`INSERT INTO keys (key_id, account_id, region, description, key_usage, key_spec, origin, key_state, creation_date, current_version, policy,
      provisioning, expiration_model, valid_to, material_check) VALUES (?, '111122223333', 'us-east-1', '', 'ENCRYPT_DECRYPT', 'SYMMETRIC_DEFAULT', ?, ?, 1000, 1, '{}', 0, ?, ?, ?)`);
    key.run('11111111-1111-4111-8111-111111111111', 'EXTERNAL', 'Enabled', 'KEY_MATERIAL_EXPIRES', 99_000, Buffer.from('check-1'));
    db.prepare('INSERT INTO key_versions (key_id, version, creation_date) VALUES (?, 1, 2000)').run('11111111-1111-4111-8111-111111111111');
    key.run('22222222-2222-4222-8222-222222222222', 'EXTERNAL', 'PendingImport', null, null, Buffer.from('check-2'));
    key.run('33333333-3333-4333-8333-333333333333', 'AWS_KMS', 'Enabled', null, null, null);
    db.prepare('INSERT INTO key_versions (key_id, version, creation_date) VALUES (?, 1, 1000)').run('33333333-3333-4333-8333-333333333333');
    // An alias of the time, before aliases had a region: it takes its target key's.
    db.prepare("INSERT INTO aliases (account_id, alias_name, target_key_id, creation_date, last_updated_date) VALUES ('111122223333', 'alias/old', ?, 1000, 1000)").run('33333333-3333-4333-8333-333333333333');
    db.close();

    const store = new SqliteStore(file);
    try {
      const imported = await store.listImportedMaterial('11111111-1111-4111-8111-111111111111');
      expect(imported.map((m) => [m.version, m.check.toString(), m.imported, m.pendingRotation, m.expirationModel, m.validTo?.getTime()])).toEqual([
        [1, 'check-1', true, false, 'KEY_MATERIAL_EXPIRES', 99_000],
      ]);
      const deleted = await store.listImportedMaterial('22222222-2222-4222-8222-222222222222');
      expect(deleted.map((m) => [m.version, m.check.toString(), m.imported])).toEqual([[1, 'check-2', false]]);
      expect(await store.listKeyVersions('22222222-2222-4222-8222-222222222222')).toEqual([1]);
      expect(await store.listImportedMaterial('33333333-3333-4333-8333-333333333333')).toEqual([]);
      expect(await store.getAlias({ accountId: '111122223333', region: 'us-east-1' }, 'alias/old')).toMatchObject({ targetKeyId: '33333333-3333-4333-8333-333333333333', region: 'us-east-1' });
      expect(await store.getAlias({ accountId: '111122223333', region: 'eu-west-1' }, 'alias/old')).toBeUndefined();
      // The material deleted before the migration comes back as the key's first: the key is Enabled again.
      await store.recordImportedMaterial('22222222-2222-4222-8222-222222222222', { version: 1, check: Buffer.from('check-2'), description: undefined, expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', validTo: undefined, pendingRotation: false }, new Date(3000));
      expect((await store.getKey('22222222-2222-4222-8222-222222222222'))!.keyState).toBe(KeyState.Enabled);
    } finally {
      await store.close();
    }
  });

  it('does the same on PostgreSQL', async () => {
    const url = await freshPostgresDatabase();
    const before = POSTGRES_MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE imported_material'));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      for (let i = 0; i < before; i++) {
        await client.query(POSTGRES_MIGRATIONS[i]!);
        await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)', [i + 1]);
      }
      const key = `INSERT INTO keys (key_id, account_id, region, description, key_usage, key_spec, origin, key_state, creation_date, current_version, policy,
        provisioning, expiration_model, valid_to, material_check) VALUES ($1, '111122223333', 'eu-west-1', '', 'ENCRYPT_DECRYPT', 'SYMMETRIC_DEFAULT', 'EXTERNAL', $2, 1000, 1, '{}', 0, NULL, NULL, $3)`;
      await client.query(key, ['44444444-4444-4444-8444-444444444444', 'Enabled', Buffer.from('check-4')]);
      await client.query('INSERT INTO key_versions (key_id, version, creation_date) VALUES ($1, 1, 2000)', ['44444444-4444-4444-8444-444444444444']);
      await client.query(key, ['55555555-5555-4555-8555-555555555555', 'PendingImport', Buffer.from('check-5')]);
      await client.query("INSERT INTO aliases (account_id, alias_name, target_key_id, creation_date, last_updated_date) VALUES ('111122223333', 'alias/old', $1, 1000, 1000)", ['44444444-4444-4444-8444-444444444444']);
    } finally {
      await client.end();
    }
    const store = await PostgresStore.open(url);
    try {
      expect((await store.listImportedMaterial('44444444-4444-4444-8444-444444444444')).map((m) => [m.version, m.check.toString(), m.imported])).toEqual([[1, 'check-4', true]]);
      expect((await store.listImportedMaterial('55555555-5555-4555-8555-555555555555')).map((m) => [m.version, m.check.toString(), m.imported])).toEqual([[1, 'check-5', false]]);
      expect(await store.listKeyVersions('55555555-5555-4555-8555-555555555555')).toEqual([1]);
      expect(await store.getAlias({ accountId: '111122223333', region: 'eu-west-1' }, 'alias/old')).toMatchObject({ targetKeyId: '44444444-4444-4444-8444-444444444444' });
    } finally {
      await store.close();
    }
  });
});
