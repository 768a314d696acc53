import type { Scope } from '../domain/arn.js';
import pg from 'pg';
import { AlreadyExistsException, LimitExceededException } from '../domain/errors.js';
import type { Grant } from '../domain/grant.js';
import { awsKeyId, isMultiRegionKeyId, type Alias, type KeyMaterialRef, type KmsKey, type Tag } from '../domain/key.js';
import type {
  AccessKeyStatus,
  GrantStore,
  IdentityPolicyDocument,
  KeyLastUse,
  KeyUsageStore,
  PrincipalStore,
  StoredAccessKey,
  StoredPrincipal,
} from '../services/access/access-ports.js';
import type {
  DestroyedKeyMaterial,
  ImportedMaterial,
  MaterialReservation,
  ImportToken,
  KeyRotation,
  KeyVersionCheck,
  MetadataStore,
  NewImportedMaterial,
  NewKey,
  Page,
  ProvisioningKey,
  ReplicaInsertion,
  RotationStatus,
  RotationType,
} from '../services/ports/index.js';
import { REPLICABLE_STATES } from '../services/ports/index.js';
import { page } from './paging.js';
import { LocalMutex } from './local-mutex.js';
import { PostgresChangeFeed } from './postgres-change-feed.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import {
  flushedAtSetting,
  grantRowParams,
  keyRowParams,
  KEY_MATERIAL_EXPIRY,
  KEY_SIDE_TABLES,
  NEVER_THE_KEYS,
  nextKeyVersion,
  notAReplica,
  LACKS_IMPORTED_MATERIAL,
  PRIMARY_WITH_REPLICAS,
  toImportedMaterial,
  type ImportedMaterialRow,
  toAccessKey,
  toAlias,
  toGrant,
  toImportToken,
  toKey,
  toPrincipal,
  type AccessKeyRow,
  type AliasRow,
  type GrantRow,
  type ImportTokenRow,
  type KeyRow,
  type PrincipalRow,
  type RotationRow,
  toRotationStatus,
  rotationPage,
  type VersionRow,
} from './rows.js';

type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/** PostgreSQL's unique_violation. */
const UNIQUE_VIOLATION = '23505';
/** The advisory lock under which migrations are applied (any constant; this one spells "hsmk"). */
const MIGRATION_LOCK = 0x68736d6b;

/** BIGINT (and COUNT) read as numbers: every one here is a millisecond time or a count well within 2^53. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string }).code === UNIQUE_VIOLATION;
}

/**
 * The metadata store on PostgreSQL (KMS_DATABASE=postgres://...), for several
 * instances sharing one database and one HSM. The same rows and the same
 * behaviour as the SQLite store: test/store/store-contract.ts runs against both.
 * Where SQLite serialises writers, this takes advisory locks.
 */
export class PostgresStore implements MetadataStore {
  readonly principals: PostgresPrincipalStore;
  readonly grants: PostgresGrantStore;
  readonly usage: PostgresKeyUsageStore;

  private readonly mutex = new LocalMutex();
  private readonly feed: PostgresChangeFeed;

  private constructor(
    private readonly pool: pg.Pool,
    url: string,
  ) {
    this.feed = new PostgresChangeFeed(url, pool);
    this.principals = new PostgresPrincipalStore(pool);
    this.grants = new PostgresGrantStore(pool);
    this.usage = new PostgresKeyUsageStore(pool);
  }

  static async open(url: string, maxConnections = 10): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: maxConnections, types: TYPES, connectionTimeoutMillis: 5_000 });
    // An idle connection the server dropped is replaced; the pool must not take the process down with it.
    pool.on('error', () => undefined);
    try {
      await migrate(pool);
      const store = new PostgresStore(pool, url);
      await store.feed.start();
      return store;
    } catch (e) {
      await pool.end();
      throw e;
    }
  }

  /**
   * An advisory lock on a connection of its own, taken after the same name's
   * turn in this process (so that a process never holds more than one
   * connection waiting for one name); the server releases it if the process dies.
   */
  async exclusive<T>(name: string, work: () => Promise<T>, wait = true): Promise<{ ran: true; value: T } | { ran: false }> {
    if (!wait && this.mutex.held(name)) return { ran: false };
    return this.mutex.run(name, async () => {
      const c = await this.pool.connect();
      try {
        if (wait) await c.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
        else if (!(await c.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [name])).rows[0]!.locked) return { ran: false as const };
        try {
          return { ran: true as const, value: await work() };
        } finally {
          await c.query('SELECT pg_advisory_unlock(hashtext($1))', [name]);
        }
      } finally {
        c.release();
      }
    });
  }

  /** Instances share PostgreSQL: nothing to take. */
  async holdInstance(): Promise<void> {}

  changeFeed(): PostgresChangeFeed {
    return this.feed;
  }

  private async rows<R>(sql: string, params: readonly unknown[] = [], on: Queryable = this.pool): Promise<R[]> {
    return (await on.query(sql, params as unknown[])).rows as R[];
  }

  /** The one row a query always answers (a count, a RETURNING). */
  private async one<R>(sql: string, params: readonly unknown[] = [], on: Queryable = this.pool): Promise<R> {
    return (await this.rows<R>(sql, params, on))[0]!;
  }

  private async changed(sql: string, params: readonly unknown[], on: Queryable = this.pool): Promise<number> {
    return (await on.query(sql, params as unknown[])).rowCount ?? 0;
  }

  private tx<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return transaction(this.pool, work);
  }

  async insertProvisioningKey({ key, tags }: NewKey, maxKeysInAccount = Number.POSITIVE_INFINITY): Promise<boolean> {
    return this.tx(async (c) => {
      if (!(await this.underKeyQuota(key.accountId, maxKeysInAccount, c))) return false;
      await this.insertKeyRow(key, c);
      if (key.origin === 'AWS_KMS') await c.query('INSERT INTO key_versions (key_id, version, creation_date) VALUES ($1, $2, $3)', [key.keyId, key.currentVersion, key.creationDate.getTime()]);
      for (const t of tags) await c.query('INSERT INTO tags (key_id, tag_key, tag_value) VALUES ($1, $2, $3)', [key.keyId, t.TagKey, t.TagValue]);
      return true;
    });
  }

  /** One creation at a time per account, so that concurrent ones cannot overshoot the quota. */
  private async underKeyQuota(accountId: string, maxKeysInAccount: number, c: pg.PoolClient): Promise<boolean> {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`keys/${accountId}`]);
    const { n } = await this.one<{ n: number }>('SELECT COUNT(*) AS n FROM keys WHERE account_id = $1 AND deleted_at IS NULL', [accountId], c);
    return n < maxKeysInAccount;
  }

  /** Changes to a multi-Region key's regions, one at a time (replication, the primary region, rotation, destruction). */
  private async lockMultiRegionKey(keyId: string, c: pg.PoolClient): Promise<void> {
    if (isMultiRegionKeyId(keyId)) await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`mrk/${awsKeyId(keyId)}`]);
  }

  async listMultiRegionKeys(multiRegionKeyId: string): Promise<KmsKey[]> {
    const rows = await this.rows<KeyRow>('SELECT * FROM keys WHERE multi_region_key_id = $1 AND provisioning = 0 AND deleted_at IS NULL ORDER BY region', [multiRegionKeyId]);
    return rows.map(toKey);
  }

  async insertReplicaKey({ key, tags }: NewKey, primaryKeyId: string, maxKeysInAccount = Number.POSITIVE_INFINITY): Promise<ReplicaInsertion> {
    return this.tx(async (c): Promise<ReplicaInsertion> => {
      await this.lockMultiRegionKey(primaryKeyId, c);
      const primary = await this.liveKeyRow(primaryKeyId, c);
      if (!primary || primary.primary_region !== primary.region || !REPLICABLE_STATES.includes(primary.key_state)) return 'primary-changed';
      const [existing] = await this.rows<{ deleted_at: number | null }>('SELECT deleted_at FROM keys WHERE key_id = $1', [key.keyId], c);
      if (existing && existing.deleted_at === null) return 'exists';
      if (existing) {
        for (const t of KEY_SIDE_TABLES) await c.query(`DELETE FROM ${t} WHERE key_id = $1`, [key.keyId]);
        await c.query('DELETE FROM keys WHERE key_id = $1 AND deleted_at IS NOT NULL', [key.keyId]);
      }
      if (!(await this.underKeyQuota(key.accountId, maxKeysInAccount, c))) return 'quota';
      await this.insertKeyRow({ ...key, currentVersion: primary.current_version, primaryRegion: primary.region }, c);
      await c.query(
        `INSERT INTO key_versions (key_id, version, creation_date, rotation_type)
         SELECT $1, version, creation_date, rotation_type FROM key_versions WHERE key_id = $2 AND provisioning = 0`,
        [key.keyId, primaryKeyId],
      );
      for (const t of tags) await c.query('INSERT INTO tags (key_id, tag_key, tag_value) VALUES ($1, $2, $3)', [key.keyId, t.TagKey, t.TagValue]);
      await c.query('UPDATE keys SET provisioning = 0 WHERE key_id = $1', [key.keyId]);
      return 'created';
    });
  }

  async updatePrimaryRegion(primaryKeyId: string, newPrimaryKeyId: string, now: Date): Promise<boolean> {
    return this.tx(async (c) => {
      await this.lockMultiRegionKey(primaryKeyId, c);
      const rotating = await this.rows('SELECT 1 FROM key_rotation WHERE key_id = $1 AND lease_until >= $2', [primaryKeyId, now.getTime()], c);
      if (rotating.length > 0) return false;
      const primary = await this.liveKeyRow(primaryKeyId, c);
      const replica = await this.liveKeyRow(newPrimaryKeyId, c);
      if (!primary || !replica || primary.primary_region !== primary.region || replica.multi_region_key_id !== primary.multi_region_key_id) return false;
      if (primary.key_state !== 'Enabled' || replica.key_state !== 'Enabled') return false;
      await c.query('UPDATE keys SET primary_region = $1 WHERE multi_region_key_id = $2', [replica.region, primary.multi_region_key_id]);
      // Automatic rotation is the primary's to run.
      await c.query('DELETE FROM key_rotation WHERE key_id = $1', [newPrimaryKeyId]);
      await c.query('UPDATE key_rotation SET key_id = $1 WHERE key_id = $2', [newPrimaryKeyId, primaryKeyId]);
      return true;
    });
  }

  private async liveKeyRow(keyId: string, c: pg.PoolClient): Promise<KeyRow | undefined> {
    const [row] = await this.rows<KeyRow>('SELECT * FROM keys WHERE key_id = $1 AND provisioning = 0 AND deleted_at IS NULL AND destruction_started_at IS NULL', [keyId], c);
    return row;
  }

  /** A new key's row, provisioning (invisible) until activated. */
  private async insertKeyRow(key: KmsKey, c: pg.PoolClient): Promise<void> {
    const p = keyRowParams(key);
    await c.query(
      `INSERT INTO keys (key_id, account_id, region, description, key_usage, key_spec, origin, key_state, creation_date, deletion_date,
        pending_window, current_version, policy, policy_principals, expiration_model, valid_to, multi_region_key_id, primary_region, provisioning)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 1)`,
      [p.key_id, p.account_id, p.region, p.description, p.key_usage, p.key_spec, p.origin, p.key_state, p.creation_date, p.deletion_date,
        p.pending_window, p.current_version, p.policy, p.policy_principals, p.expiration_model, p.valid_to, p.multi_region_key_id, p.primary_region],
    );
  }

  async activateKey(keyId: string): Promise<boolean> {
    return (await this.changed('UPDATE keys SET provisioning = 0 WHERE key_id = $1', [keyId])) === 1;
  }

  async listProvisioningKeys(createdBefore: Date): Promise<ProvisioningKey[]> {
    const rows = await this.rows<{ key_id: string; version: number; account_id: string; region: string }>(
      'SELECT k.key_id, v.version, k.account_id, k.region FROM keys k JOIN key_versions v ON v.key_id = k.key_id WHERE k.provisioning = 1 AND k.creation_date < $1',
      [createdBefore.getTime()],
    );
    return rows.map((r) => ({ keyId: r.key_id, version: r.version, accountId: r.account_id, region: r.region }));
  }

  async deleteProvisioningKey(keyId: string): Promise<void> {
    await this.changed('DELETE FROM keys WHERE key_id = $1 AND provisioning = 1', [keyId]);
  }

  async getKey(keyId: string): Promise<KmsKey | undefined> {
    const [row] = await this.rows<KeyRow>('SELECT * FROM keys WHERE key_id = $1 AND provisioning = 0 AND deleted_at IS NULL', [keyId]);
    return row && toKey(row);
  }

  async listKeys(scope: Scope, after: string | undefined, limit: number): Promise<Page<KmsKey>> {
    const rows = await this.rows<KeyRow>(
      'SELECT * FROM keys WHERE account_id = $1 AND region = $2 AND provisioning = 0 AND deleted_at IS NULL AND key_id > $3 ORDER BY key_id LIMIT $4',
      [scope.accountId, scope.region, after ?? '', limit + 1],
    );
    return page(rows, limit, toKey, (r) => r.key_id);
  }

  async updateKey(key: KmsKey): Promise<void> {
    const p = keyRowParams(key);
    await this.changed(
      `UPDATE keys SET description = $2, key_state = $3, deletion_date = $4, pending_window = $5, expiration_model = $6, valid_to = $7
       WHERE key_id = $1 AND provisioning = 0 AND deleted_at IS NULL AND destruction_started_at IS NULL`,
      [p.key_id, p.description, p.key_state, p.deletion_date, p.pending_window, p.expiration_model, p.valid_to],
    );
  }

  async updateKeyPolicy(keyId: string, policy: string, principals: Readonly<Record<string, string>>): Promise<boolean> {
    const n = await this.changed(
      'UPDATE keys SET policy = $1, policy_principals = $2 WHERE key_id = $3 AND provisioning = 0 AND deleted_at IS NULL AND destruction_started_at IS NULL',
      [policy, JSON.stringify(principals), keyId],
    );
    return n === 1;
  }

  async countKeysByState(): Promise<Record<string, number>> {
    const rows = await this.rows<{ key_state: string; n: number }>('SELECT key_state, COUNT(*) AS n FROM keys WHERE provisioning = 0 AND deleted_at IS NULL GROUP BY key_state');
    return Object.fromEntries(rows.map((r) => [r.key_state, r.n]));
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async listKeysWithUnboundPolicies(limit: number): Promise<KmsKey[]> {
    return (await this.rows<KeyRow>('SELECT * FROM keys WHERE policy_principals IS NULL ORDER BY key_id LIMIT $1', [limit])).map(toKey);
  }

  async bindKeyPolicyPrincipals(keyId: string, principals: Readonly<Record<string, string>>): Promise<void> {
    await this.changed('UPDATE keys SET policy_principals = $1 WHERE key_id = $2 AND policy_principals IS NULL', [JSON.stringify(principals), keyId]);
  }

  async scheduleKeyDeletion(keyId: string, pendingWindowInDays: number, deletionDate: Date): Promise<boolean> {
    return this.tx(async (c) => {
      await this.lockMultiRegionKey(keyId, c);
      const n = await this.changed(
        `UPDATE keys SET
          key_state = CASE WHEN ${PRIMARY_WITH_REPLICAS} THEN 'PendingReplicaDeletion' ELSE 'PendingDeletion' END,
          deletion_date = CASE WHEN ${PRIMARY_WITH_REPLICAS} THEN NULL ELSE $3::bigint END, pending_window = $2
         WHERE key_id = $1 AND key_state NOT IN ('PendingDeletion', 'PendingReplicaDeletion')
         AND provisioning = 0 AND deleted_at IS NULL AND destruction_started_at IS NULL`,
        [keyId, pendingWindowInDays, deletionDate.getTime()],
        c,
      );
      return n > 0;
    });
  }

  async cancelKeyDeletion(keyId: string): Promise<boolean> {
    const n = await this.changed(
      `UPDATE keys SET deletion_date = NULL, pending_window = NULL,
        key_state = CASE WHEN ${LACKS_IMPORTED_MATERIAL} THEN 'PendingImport' ELSE 'Disabled' END
       WHERE key_id = $1 AND key_state IN ('PendingDeletion', 'PendingReplicaDeletion') AND destruction_started_at IS NULL AND deleted_at IS NULL`,
      [keyId],
    );
    return n > 0;
  }

  async listKeysDueForDeletion(now: Date, limit: number): Promise<KmsKey[]> {
    const rows = await this.rows<KeyRow>(
      `SELECT * FROM keys WHERE key_state = 'PendingDeletion' AND deletion_date <= $1 AND provisioning = 0 AND deleted_at IS NULL ORDER BY deletion_date LIMIT $2`,
      [now.getTime(), limit],
    );
    return rows.map(toKey);
  }

  async beginKeyDestruction(keyId: string, now: Date): Promise<boolean> {
    return this.tx(async (c) => {
      await this.lockMultiRegionKey(keyId, c);
      // A primary key replicated meanwhile waits for its replicas: its material is theirs too.
      await c.query(
        `UPDATE keys SET key_state = 'PendingReplicaDeletion', deletion_date = NULL
         WHERE key_id = $1 AND key_state = 'PendingDeletion' AND destruction_started_at IS NULL AND deleted_at IS NULL AND ${PRIMARY_WITH_REPLICAS}`,
        [keyId],
      );
      const n = await this.changed(
        `UPDATE keys SET destruction_started_at = COALESCE(destruction_started_at, $1)
         WHERE key_id = $2 AND key_state = 'PendingDeletion' AND deletion_date <= $1 AND deleted_at IS NULL`,
        [now.getTime(), keyId],
        c,
      );
      return n > 0;
    });
  }

  async listKeyVersions(keyId: string): Promise<number[]> {
    // Every version that may have a token object: an imported key's material pending rotation too.
    const sql = 'SELECT version FROM key_versions WHERE key_id = $1 UNION SELECT version FROM imported_material WHERE key_id = $1 ORDER BY version';
    return (await this.rows<{ version: number }>(sql, [keyId])).map((r) => r.version);
  }

  async completeKeyDestruction(keyId: string, versions: readonly number[], at: Date): Promise<void> {
    await this.tx(async (c) => {
      await this.lockMultiRegionKey(keyId, c);
      for (const v of versions) {
        await c.query('INSERT INTO destroyed_key_material (key_id, version, destroyed_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [keyId, v, at.getTime()]);
      }
      await c.query('DELETE FROM aliases WHERE target_key_id = $1', [keyId]);
      await c.query('DELETE FROM grants WHERE key_id = $1', [keyId]);
      await c.query('UPDATE keys SET deleted_at = $1 WHERE key_id = $2 AND deleted_at IS NULL', [at.getTime(), keyId]);
      // The last replica gone: a primary waiting for it starts its own waiting period.
      await c.query(
        `UPDATE keys SET key_state = 'PendingDeletion', deletion_date = $1 + pending_window::bigint * 86400000
         WHERE multi_region_key_id = (SELECT multi_region_key_id FROM keys WHERE key_id = $2) AND key_state = 'PendingReplicaDeletion'
         AND deleted_at IS NULL AND NOT (${PRIMARY_WITH_REPLICAS})`,
        [at.getTime(), keyId],
      );
    });
  }

  async listDestroyedKeyMaterial(keyId: string): Promise<DestroyedKeyMaterial[]> {
    const rows = await this.rows<{ key_id: string; version: number; destroyed_at: number }>('SELECT * FROM destroyed_key_material WHERE key_id = $1 ORDER BY version', [keyId]);
    return rows.map((r) => ({ keyId: r.key_id, version: r.version, destroyedAt: new Date(r.destroyed_at) }));
  }

  async getRotationStatus(keyId: string): Promise<RotationStatus | undefined> {
    const [r] = await this.rows<RotationRow>('SELECT * FROM key_rotation WHERE key_id = $1', [keyId]);
    return r && toRotationStatus(r);
  }

  async setRotation(keyId: string, enabled: boolean, periodDays: number, nextRotationDate: Date | undefined): Promise<void> {
    await this.changed(
      `INSERT INTO key_rotation (key_id, enabled, period_days, next_rotation_date) VALUES ($1, $2, $3, $4)
       ON CONFLICT (key_id) DO UPDATE SET enabled = excluded.enabled, period_days = excluded.period_days, next_rotation_date = excluded.next_rotation_date`,
      [keyId, enabled ? 1 : 0, periodDays, nextRotationDate?.getTime() ?? null],
    );
  }

  async listKeysDueForRotation(now: Date, limit: number): Promise<string[]> {
    const rows = await this.rows<{ key_id: string }>(
      `SELECT r.key_id FROM key_rotation r JOIN keys k ON k.key_id = r.key_id
       WHERE r.enabled = 1 AND r.next_rotation_date <= $1 AND r.lease_until < $1
       AND k.key_state = 'Enabled' AND k.deleted_at IS NULL AND k.provisioning = 0 ORDER BY r.next_rotation_date LIMIT $2`,
      [now.getTime(), limit],
    );
    return rows.map((r) => r.key_id);
  }

  async acquireRotationLease(keyId: string, now: Date, leaseMs: number, type: RotationType): Promise<boolean> {
    const params = [keyId, now.getTime(), now.getTime() + leaseMs];
    const sql =
      type === 'AUTOMATIC'
        ? `UPDATE key_rotation SET lease_until = $3 WHERE key_id = $1 AND enabled = 1 AND next_rotation_date <= $2 AND lease_until < $2 AND ${notAReplica('$1')}`
        : `INSERT INTO key_rotation (key_id, enabled, period_days, lease_until, on_demand_started_at) SELECT $1, 0, 365, $3::bigint, $2::bigint WHERE ${notAReplica('$1')}
           ON CONFLICT (key_id) DO UPDATE SET lease_until = $3, on_demand_started_at = $2 WHERE key_rotation.lease_until < $2`;
    // In turn with UpdatePrimaryRegion: a key that is a replica by then gets no lease.
    return this.tx(async (c) => {
      await this.lockMultiRegionKey(keyId, c);
      return (await this.changed(sql, params, c)) > 0;
    });
  }

  async releaseRotationLease(keyId: string, on: Queryable = this.pool): Promise<void> {
    await this.changed('UPDATE key_rotation SET lease_until = 0, on_demand_started_at = NULL WHERE key_id = $1', [keyId], on);
  }

  async insertProvisioningVersion(keyId: string, at: Date, type: RotationType): Promise<number> {
    return this.tx(async (c) => {
      // One version number at a time per key (and per multi-Region key): concurrent attempts never share one.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`versions/${awsKeyId(keyId)}`]);
      const { n } = await this.one<{ n: number }>(nextKeyVersion('$1'), [keyId], c);
      await c.query('INSERT INTO key_versions (key_id, version, creation_date, rotation_type, provisioning) VALUES ($1, $2, $3, $4, 1)', [keyId, n, at.getTime(), type]);
      return Number(n);
    });
  }

  async commitKeyVersion(keyId: string, version: number, nextRotationDate: Date | undefined): Promise<boolean> {
    return this.tx(async (c) => {
      await this.lockMultiRegionKey(keyId, c);
      if ((await this.changed('UPDATE key_versions SET provisioning = 0 WHERE key_id = $1 AND version = $2 AND provisioning = 1', [keyId, version], c)) === 0) return false;
      await c.query('UPDATE keys SET current_version = $1 WHERE key_id = $2 AND current_version < $1', [version, keyId]);
      // A multi-Region key's regions share its material: each has the new version at once.
      await c.query(
        `INSERT INTO key_versions (key_id, version, creation_date, rotation_type)
         SELECT k.key_id, v.version, v.creation_date, v.rotation_type FROM key_versions v
         JOIN keys p ON p.key_id = v.key_id JOIN keys k ON k.multi_region_key_id = p.multi_region_key_id AND k.key_id <> p.key_id AND k.deleted_at IS NULL
         WHERE v.key_id = $1 AND v.version = $2 ON CONFLICT DO NOTHING`,
        [keyId, version],
      );
      await c.query(
        'UPDATE keys SET current_version = $1 WHERE multi_region_key_id = (SELECT multi_region_key_id FROM keys WHERE key_id = $2) AND current_version < $1',
        [version, keyId],
      );
      await c.query(
        'UPDATE key_rotation SET next_rotation_date = CASE WHEN enabled = 1 THEN $1 ELSE next_rotation_date END, lease_until = 0, on_demand_started_at = NULL WHERE key_id = $2',
        [nextRotationDate?.getTime() ?? null, keyId],
      );
      return true;
    });
  }

  async listProvisioningVersions(now: Date): Promise<KeyMaterialRef[]> {
    const rows = await this.rows<{ key_id: string; version: number }>(
      `SELECT v.key_id, v.version FROM key_versions v JOIN keys k ON k.key_id = v.key_id LEFT JOIN key_rotation r ON r.key_id = v.key_id
       WHERE v.provisioning = 1 AND k.provisioning = 0 AND COALESCE(r.lease_until, 0) < $1`,
      [now.getTime()],
    );
    return rows.map((r) => ({ keyId: r.key_id, version: r.version }));
  }

  async abandonProvisioningVersion(ref: KeyMaterialRef): Promise<void> {
    await this.tx(async (c) => {
      await c.query('UPDATE key_versions SET provisioning = 2 WHERE key_id = $1 AND version = $2 AND provisioning = 1', [ref.keyId, ref.version]);
      await this.releaseRotationLease(ref.keyId, c);
    });
  }

  async listRotations(keyId: string, afterVersion: number, limit: number): Promise<Page<KeyRotation>> {
    const rows = await this.rows<VersionRow>(
      `SELECT key_id, version, creation_date, rotation_type FROM key_versions
       WHERE key_id = $1 AND rotation_type IS NOT NULL AND provisioning = 0 AND version > $2 ORDER BY version LIMIT $3`,
      [keyId, afterVersion, limit + 1],
    );
    return rotationPage(rows, limit);
  }

  async saveImportToken(token: ImportToken): Promise<void> {
    await this.changed(
      'INSERT INTO import_tokens (token_id, key_id, wrapping_algorithm, wrapping_key_spec, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [token.tokenId, token.keyId, token.wrappingAlgorithm, token.wrappingKeySpec, token.createdAt.getTime(), token.expiresAt.getTime()],
    );
  }

  async getImportToken(tokenId: string): Promise<ImportToken | undefined> {
    const [r] = await this.rows<ImportTokenRow>('SELECT * FROM import_tokens WHERE token_id = $1', [tokenId]);
    return r && toImportToken(r);
  }

  async listExpiredImportTokens(now: Date, limit: number): Promise<ImportToken[]> {
    return (await this.rows<ImportTokenRow>('SELECT * FROM import_tokens WHERE expires_at <= $1 LIMIT $2', [now.getTime(), limit])).map(toImportToken);
  }

  async listImportTokensOfKey(keyId: string): Promise<ImportToken[]> {
    return (await this.rows<ImportTokenRow>('SELECT * FROM import_tokens WHERE key_id = $1 ORDER BY created_at, issued', [keyId])).map(toImportToken);
  }

  async deleteImportToken(tokenId: string): Promise<void> {
    await this.changed('DELETE FROM import_tokens WHERE token_id = $1', [tokenId]);
  }

  async listImportedMaterial(keyId: string): Promise<ImportedMaterial[]> {
    return (await this.rows<ImportedMaterialRow>('SELECT * FROM imported_material WHERE key_id = $1 ORDER BY version', [keyId])).map(toImportedMaterial);
  }

  async getKeyVersionCheck(ref: KeyMaterialRef): Promise<KeyVersionCheck | undefined> {
    const [r] = await this.rows<{ check_value: Buffer; made_in_token: number }>(
      'SELECT check_value, made_in_token FROM key_version_checks WHERE key_id = $1 AND version = $2',
      [awsKeyId(ref.keyId), ref.version],
    );
    return r && { value: r.check_value, madeInToken: r.made_in_token === 1 };
  }

  async saveKeyVersionCheck(ref: KeyMaterialRef, check: KeyVersionCheck, recordedBy: 'CREATION' | 'FIRST_USE', at: Date): Promise<void> {
    const onConflict =
      recordedBy === 'CREATION'
        ? 'DO UPDATE SET check_value = excluded.check_value, made_in_token = excluded.made_in_token, recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at'
        : 'DO NOTHING';
    await this.changed(
      `INSERT INTO key_version_checks (key_id, version, check_value, made_in_token, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (key_id, version) ${onConflict}`,
      [awsKeyId(ref.keyId), ref.version, check.value, check.madeInToken ? 1 : 0, recordedBy, at.getTime()],
    );
  }

  async recordImportedMaterial(keyId: string, m: NewImportedMaterial, at: Date): Promise<void> {
    await this.tx(async (c) => {
      // The check value of a material is the one of its first import, ever.
      await c.query(
        `INSERT INTO imported_material (key_id, version, check_value, description, expiration_model, valid_to, imported, pending_rotation, imported_at)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)
         ON CONFLICT (key_id, version) DO UPDATE SET imported = 1, expiration_model = EXCLUDED.expiration_model, valid_to = EXCLUDED.valid_to,
           description = COALESCE(EXCLUDED.description, imported_material.description), imported_at = EXCLUDED.imported_at`,
        [keyId, m.version, m.check, m.description ?? null, m.expirationModel, m.validTo?.getTime() ?? null, m.pendingRotation ? 1 : 0, at.getTime()],
      );
      if (!m.pendingRotation) {
        await c.query('INSERT INTO key_versions (key_id, version, creation_date) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [keyId, m.version, at.getTime()]);
      }
      await c.query(
        `UPDATE keys SET key_state = CASE WHEN key_state = 'PendingImport' AND NOT (${LACKS_IMPORTED_MATERIAL}) THEN 'Enabled' ELSE key_state END,
           ${KEY_MATERIAL_EXPIRY} WHERE key_id = $1 AND deleted_at IS NULL`,
        [keyId],
      );
    });
  }

  async markImportedMaterialDeleted(keyId: string, version: number): Promise<void> {
    await this.tx(async (c) => {
      const gone = await c.query<{ pending_rotation: number }>(
        'UPDATE imported_material SET imported = 0, expiration_model = NULL, valid_to = NULL WHERE key_id = $1 AND version = $2 AND imported = 1 RETURNING pending_rotation',
        [keyId, version],
      );
      // A pending rotation's material was never the key's: its row stays (not imported) until forgotten, the key as it is.
      if (gone.rows[0]?.pending_rotation !== 0) return;
      await c.query(
        // A key pending deletion stays so (AWS); CancelKeyDeletion then finds it without material.
        `UPDATE keys SET key_state = CASE WHEN key_state = 'PendingDeletion' THEN key_state ELSE 'PendingImport' END, ${KEY_MATERIAL_EXPIRY}
         WHERE key_id = $1 AND origin = 'EXTERNAL' AND key_state IN ('Enabled', 'Disabled', 'PendingImport', 'PendingDeletion') AND deleted_at IS NULL`,
        [keyId],
      );
    });
  }

  async reserveImportedMaterial(keyId: string, m: MaterialReservation, at: Date): Promise<void> {
    await this.rows(
      `INSERT INTO imported_material (key_id, version, check_value, description, imported, pending_rotation, imported_at)
       VALUES ($1, $2, $3, $4, 0, $5, $6) ON CONFLICT (key_id, version) DO NOTHING`,
      [keyId, m.version, m.check, m.description ?? null, m.pendingRotation ? 1 : 0, at.getTime()],
    );
  }

  async forgetImportedMaterial(keyId: string, version: number): Promise<void> {
    await this.rows(`DELETE FROM imported_material WHERE key_id = $1 AND version = $2 AND ${NEVER_THE_KEYS}`, [keyId, version]);
  }

  async listExpiredImportedMaterial(now: Date, limit: number): Promise<Array<{ key: KmsKey; version: number }>> {
    const rows = await this.rows<KeyRow & { material_version: number }>(
      `SELECT k.*, m.version AS material_version FROM imported_material m JOIN keys k ON k.key_id = m.key_id
       WHERE m.imported = 1 AND m.expiration_model = 'KEY_MATERIAL_EXPIRES' AND m.valid_to <= $1 AND k.deleted_at IS NULL AND k.provisioning = 0 LIMIT $2`,
      [now.getTime(), limit],
    );
    return rows.map((r) => ({ key: toKey(r), version: r.material_version }));
  }

  async commitImportedRotation(keyId: string, version: number, at: Date): Promise<boolean> {
    return this.tx(async (c) => {
      const pending = await c.query('UPDATE imported_material SET pending_rotation = 0 WHERE key_id = $1 AND version = $2 AND pending_rotation = 1 AND imported = 1', [keyId, version]);
      if ((pending.rowCount ?? 0) === 0) return false;
      await c.query("INSERT INTO key_versions (key_id, version, creation_date, rotation_type) VALUES ($1, $2, $3, 'ON_DEMAND')", [keyId, version, at.getTime()]);
      await c.query('UPDATE keys SET current_version = $2 WHERE key_id = $1', [keyId, version]);
      await c.query(`UPDATE keys SET ${KEY_MATERIAL_EXPIRY} WHERE key_id = $1`, [keyId]);
      await c.query('UPDATE key_rotation SET lease_until = 0, on_demand_started_at = NULL WHERE key_id = $1', [keyId]);
      return true;
    });
  }

  async getAlias(scope: Scope, aliasName: string): Promise<Alias | undefined> {
    const [row] = await this.rows<AliasRow>('SELECT * FROM aliases WHERE account_id = $1 AND region = $2 AND alias_name = $3', [scope.accountId, scope.region, aliasName]);
    return row && toAlias(row);
  }

  async listAliases(scope: Scope, targetKeyId: string | undefined, after: string | undefined, limit: number): Promise<Page<Alias>> {
    const rows =
      targetKeyId === undefined
        ? await this.rows<AliasRow>('SELECT * FROM aliases WHERE account_id = $1 AND region = $2 AND alias_name > $3 ORDER BY alias_name LIMIT $4', [scope.accountId, scope.region, after ?? '', limit + 1])
        : await this.rows<AliasRow>('SELECT * FROM aliases WHERE account_id = $1 AND region = $2 AND target_key_id = $3 AND alias_name > $4 ORDER BY alias_name LIMIT $5', [
            scope.accountId,
            scope.region,
            targetKeyId,
            after ?? '',
            limit + 1,
          ]);
    return page(rows, limit, toAlias, (r) => r.alias_name);
  }

  async createAlias(alias: Alias): Promise<void> {
    try {
      await this.changed('INSERT INTO aliases (account_id, region, alias_name, target_key_id, creation_date, last_updated_date) VALUES ($1, $2, $3, $4, $5, $6)', [
        alias.accountId,
        alias.region,
        alias.aliasName,
        alias.targetKeyId,
        alias.creationDate.getTime(),
        alias.lastUpdatedDate.getTime(),
      ]);
    } catch (e) {
      if (isUniqueViolation(e)) throw new AlreadyExistsException(`An alias with the name ${alias.aliasName} already exists`);
      throw e;
    }
  }

  async updateAlias(scope: Scope, aliasName: string, targetKeyId: string, at: Date): Promise<void> {
    await this.changed('UPDATE aliases SET target_key_id = $1, last_updated_date = $2 WHERE account_id = $3 AND region = $4 AND alias_name = $5', [
      targetKeyId,
      at.getTime(),
      scope.accountId,
      scope.region,
      aliasName,
    ]);
  }

  async deleteAlias(scope: Scope, aliasName: string): Promise<boolean> {
    return (await this.changed('DELETE FROM aliases WHERE account_id = $1 AND region = $2 AND alias_name = $3', [scope.accountId, scope.region, aliasName])) > 0;
  }


  async listTags(keyId: string): Promise<Tag[]> {
    return this.rows<Tag>('SELECT tag_key AS "TagKey", tag_value AS "TagValue" FROM tags WHERE key_id = $1 ORDER BY tag_key', [keyId]);
  }

  async putTags(keyId: string, tags: readonly Tag[], maxTags: number): Promise<void> {
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tags/${keyId}`]);
      for (const t of tags) {
        await c.query('INSERT INTO tags (key_id, tag_key, tag_value) VALUES ($1, $2, $3) ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value', [keyId, t.TagKey, t.TagValue]);
      }
      const { n } = await this.one<{ n: number }>('SELECT COUNT(*) AS n FROM tags WHERE key_id = $1', [keyId], c);
      if (n > maxTags) throw new LimitExceededException(`A key can have at most ${maxTags} tags.`);
    });
  }

  async removeTags(keyId: string, tagKeys: readonly string[]): Promise<void> {
    await this.changed('DELETE FROM tags WHERE key_id = $1 AND tag_key = ANY($2)', [keyId, tagKeys]);
  }

  async allocateIvInstance(): Promise<number> {
    const { id } = await this.one<{ id: number }>("INSERT INTO iv_instances (id, started_at) VALUES (nextval('iv_instance_ids'), $1) RETURNING id", [Date.now()]);
    return id;
  }

  async lastIvInstance(): Promise<number> {
    const { n } = await this.one<{ n: number }>('SELECT COALESCE(MAX(id), 0) AS n FROM iv_instances');
    return n;
  }

  /** A row at that very fixed field, and the sequence past it: only greater ones are handed out after. */
  async advanceIvInstancesPast(fixedField: number): Promise<void> {
    await this.tx(async (c) => {
      await c.query('LOCK TABLE iv_instances IN EXCLUSIVE MODE');
      const { n } = await this.one<{ n: number }>('SELECT COALESCE(MAX(id), 0) AS n FROM iv_instances', [], c);
      if (fixedField <= n) return;
      await c.query('INSERT INTO iv_instances (id, started_at) VALUES ($1, $2)', [fixedField, Date.now()]);
      await c.query("SELECT setval('iv_instance_ids', $1)", [fixedField]);
    });
  }

  async close(): Promise<void> {
    await this.feed.close();
    await this.pool.end();
  }
}

async function transaction<T>(pool: pg.Pool, work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const result = await work(c);
    await c.query('COMMIT');
    return result;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

/** Applies the migrations not applied yet, under an advisory lock: instances starting together apply each once. */
async function migrate(pool: pg.Pool): Promise<void> {
  await transaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const applied = new Set((await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (let i = 0; i < POSTGRES_MIGRATIONS.length; i++) {
      if (applied.has(i + 1)) continue;
      await c.query(POSTGRES_MIGRATIONS[i]!);
      await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [i + 1, Date.now()]);
    }
  });
}

export class PostgresPrincipalStore implements PrincipalStore {
  constructor(private readonly pool: pg.Pool) {}

  private async rows<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return (await this.pool.query(sql, params as unknown[])).rows as R[];
  }

  private async changed(sql: string, params: readonly unknown[]): Promise<number> {
    return (await this.pool.query(sql, params as unknown[])).rowCount ?? 0;
  }

  async createPrincipal(p: StoredPrincipal): Promise<void> {
    try {
      await this.changed('INSERT INTO principals (arn, unique_id, account_id, kind, name, enabled, creation_date) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        p.arn,
        p.uniqueId,
        p.accountId,
        p.kind,
        p.name,
        p.enabled ? 1 : 0,
        p.creationDate.getTime(),
      ]);
    } catch (e) {
      if (isUniqueViolation(e)) throw new AlreadyExistsException(`Principal ${p.arn} already exists.`);
      throw e;
    }
  }

  async getPrincipal(arn: string): Promise<StoredPrincipal | undefined> {
    const [row] = await this.rows<PrincipalRow>('SELECT * FROM principals WHERE arn = $1', [arn]);
    return row && toPrincipal(row);
  }

  async uniqueIdsOf(arns: readonly string[]): Promise<Map<string, string>> {
    if (arns.length === 0) return new Map();
    const rows = await this.rows<{ arn: string; unique_id: string }>('SELECT arn, unique_id FROM principals WHERE arn = ANY($1)', [arns]);
    return new Map(rows.map((r) => [r.arn, r.unique_id]));
  }

  async listPrincipals(accountId: string | undefined): Promise<StoredPrincipal[]> {
    const rows =
      accountId === undefined
        ? await this.rows<PrincipalRow>('SELECT * FROM principals ORDER BY account_id, arn')
        : await this.rows<PrincipalRow>('SELECT * FROM principals WHERE account_id = $1 ORDER BY arn', [accountId]);
    return rows.map(toPrincipal);
  }

  async setPrincipalEnabled(arn: string, enabled: boolean): Promise<boolean> {
    return (await this.changed('UPDATE principals SET enabled = $1 WHERE arn = $2', [enabled ? 1 : 0, arn])) === 1;
  }

  async deletePrincipal(arn: string): Promise<boolean> {
    return (await this.changed('DELETE FROM principals WHERE arn = $1', [arn])) === 1;
  }

  async createAccessKey(k: StoredAccessKey): Promise<void> {
    await this.changed('INSERT INTO access_keys (access_key_id, principal_arn, sealed_secret, status, creation_date) VALUES ($1, $2, $3, $4, $5)', [
      k.accessKeyId,
      k.principalArn,
      k.sealedSecret,
      k.status,
      k.creationDate.getTime(),
    ]);
  }

  async getAccessKey(accessKeyId: string): Promise<StoredAccessKey | undefined> {
    const [row] = await this.rows<AccessKeyRow>('SELECT * FROM access_keys WHERE access_key_id = $1', [accessKeyId]);
    return row && toAccessKey(row);
  }

  async listAccessKeys(principalArn: string): Promise<StoredAccessKey[]> {
    return (await this.rows<AccessKeyRow>('SELECT * FROM access_keys WHERE principal_arn = $1 ORDER BY creation_date, access_key_id', [principalArn])).map(toAccessKey);
  }

  async setAccessKeyStatus(accessKeyId: string, status: AccessKeyStatus): Promise<boolean> {
    return (await this.changed('UPDATE access_keys SET status = $1 WHERE access_key_id = $2', [status, accessKeyId])) === 1;
  }

  async replaceSecret(accessKeyId: string, sealedSecret: Buffer): Promise<boolean> {
    return (await this.changed('UPDATE access_keys SET sealed_secret = $1 WHERE access_key_id = $2', [sealedSecret, accessKeyId])) === 1;
  }

  async deleteAccessKey(accessKeyId: string): Promise<boolean> {
    return (await this.changed('DELETE FROM access_keys WHERE access_key_id = $1', [accessKeyId])) === 1;
  }

  async putIdentityPolicy(principalArn: string, policy: IdentityPolicyDocument): Promise<void> {
    await this.changed(
      `INSERT INTO identity_policies (principal_arn, policy_name, document) VALUES ($1, $2, $3)
       ON CONFLICT (principal_arn, policy_name) DO UPDATE SET document = excluded.document`,
      [principalArn, policy.policyName, policy.document],
    );
  }

  async deleteIdentityPolicy(principalArn: string, policyName: string): Promise<boolean> {
    return (await this.changed('DELETE FROM identity_policies WHERE principal_arn = $1 AND policy_name = $2', [principalArn, policyName])) === 1;
  }

  async listIdentityPolicies(principalArn: string): Promise<IdentityPolicyDocument[]> {
    return this.rows<IdentityPolicyDocument>('SELECT policy_name AS "policyName", document FROM identity_policies WHERE principal_arn = $1 ORDER BY policy_name', [principalArn]);
  }
}

export class PostgresGrantStore implements GrantStore {
  constructor(private readonly pool: pg.Pool) {}

  private async rows<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return (await this.pool.query(sql, params as unknown[])).rows as R[];
  }

  async createGrant(g: Grant, maxGrants: number): Promise<void> {
    const p = grantRowParams(g);
    await transaction(this.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`grants/${g.keyId}`]);
      const { rows } = await c.query<{ n: number }>('SELECT COUNT(*) AS n FROM grants WHERE key_id = $1', [g.keyId]);
      if (rows[0]!.n >= maxGrants) throw new LimitExceededException(`A key can have at most ${maxGrants} grants.`);
      await c.query(
        `INSERT INTO grants (grant_id, key_id, key_arn, name, grantee_principal, grantee_id, retiring_principal, retiring_id, issuing_account, operations, constraints, creation_date)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [p.grantId, p.keyId, p.keyArn, p.name, p.grantee, p.granteeId, p.retiring, p.retiringId, p.issuingAccount, p.operations, p.constraints, p.creationDate],
      );
    });
  }

  async getGrant(grantId: string): Promise<Grant | undefined> {
    const [row] = await this.rows<GrantRow>('SELECT * FROM grants WHERE grant_id = $1', [grantId]);
    return row && toGrant(row);
  }

  async grantsOfKey(keyId: string): Promise<Grant[]> {
    return (await this.rows<GrantRow>('SELECT * FROM grants WHERE key_id = $1 ORDER BY grant_id', [keyId])).map(toGrant);
  }

  async grantsOfGrantee(keyId: string, granteePrincipal: string): Promise<Grant[]> {
    return (await this.rows<GrantRow>('SELECT * FROM grants WHERE key_id = $1 AND grantee_principal = $2 ORDER BY grant_id', [keyId, granteePrincipal])).map(toGrant);
  }

  async listGrants(keyId: string, filter: { grantId?: string; granteePrincipal?: string }, after: string | undefined, limit: number): Promise<Page<Grant>> {
    const rows = await this.rows<GrantRow>(
      `SELECT * FROM grants WHERE key_id = $1 AND grant_id > $2 AND ($3::text IS NULL OR grant_id = $3) AND ($4::text IS NULL OR grantee_principal = $4)
       ORDER BY grant_id LIMIT $5`,
      [keyId, after ?? '', filter.grantId ?? null, filter.granteePrincipal ?? null, limit + 1],
    );
    return page(rows, limit, toGrant, (r) => r.grant_id);
  }

  async listRetirableGrants(retiringPrincipal: string, after: string | undefined, limit: number): Promise<Page<Grant>> {
    const rows = await this.rows<GrantRow>('SELECT * FROM grants WHERE retiring_principal = $1 AND grant_id > $2 ORDER BY grant_id LIMIT $3', [retiringPrincipal, after ?? '', limit + 1]);
    return page(rows, limit, toGrant, (r) => r.grant_id);
  }

  async deleteGrant(grantId: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM grants WHERE grant_id = $1', [grantId])).rowCount ?? 0) === 1;
  }
}

export class PostgresKeyUsageStore implements KeyUsageStore {
  constructor(private readonly pool: pg.Pool) {}

  async recordUsage(usages: ReadonlyMap<string, KeyLastUse>, flushedAt: Date, writer: string): Promise<void> {
    await transaction(this.pool, async (c) => {
      for (const [keyId, u] of usages) {
        await c.query(
          `INSERT INTO key_last_usage (key_id, operation, used_at, event_id, request_id) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (key_id) DO UPDATE SET operation = excluded.operation, used_at = excluded.used_at, event_id = excluded.event_id, request_id = excluded.request_id
           WHERE excluded.used_at >= key_last_usage.used_at`,
          [keyId, u.operation, u.timestamp.getTime(), u.eventId, u.requestId],
        );
      }
      await c.query('INSERT INTO service_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [
        flushedAtSetting(writer),
        String(flushedAt.getTime()),
      ]);
    });
  }

  async flushedAt(writer: string): Promise<Date | undefined> {
    const { rows } = await this.pool.query<{ value: string }>('SELECT value FROM service_settings WHERE name = $1', [flushedAtSetting(writer)]);
    return rows[0] && new Date(Number(rows[0].value));
  }

  async lastUsage(keyId: string): Promise<KeyLastUse | undefined> {
    const { rows } = await this.pool.query<{ operation: string; used_at: number; event_id: string; request_id: string }>(
      'SELECT operation, used_at, event_id, request_id FROM key_last_usage WHERE key_id = $1',
      [keyId],
    );
    const r = rows[0];
    return r && { operation: r.operation, timestamp: new Date(r.used_at), eventId: r.event_id, requestId: r.request_id };
  }

  async trackingStart(): Promise<Date> {
    const { rows } = await this.pool.query<{ value: string }>("SELECT value FROM service_settings WHERE name = 'key_usage_tracking_started_at'");
    return new Date(Number(rows[0]!.value));
  }
}
