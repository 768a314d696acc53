import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** A new, empty database of its own in the run's PostgreSQL (see postgres-global-setup.ts); its URL. */
export async function freshPostgresDatabase(): Promise<string> {
  const admin = new URL(inject('postgresAdminUrl'));
  const name = `hsm_kms_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  admin.pathname = `/${name}`;
  return admin.toString();
}
