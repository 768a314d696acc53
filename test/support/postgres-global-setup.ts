import type { TestProject } from 'vitest/node';
import { startPostgresCluster } from './postgres-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL of the run's PostgreSQL: KMS_TEST_DATABASE_URL when given, else a throwaway cluster. */
    postgresAdminUrl: string;
  }
}

/** One PostgreSQL for the whole run; each test makes its own database in it (test/support/postgres.ts). */
export default async function setup(project: TestProject): Promise<() => void> {
  const given = process.env.KMS_TEST_DATABASE_URL;
  if (given) {
    project.provide('postgresAdminUrl', given);
    return () => undefined;
  }
  const cluster = await startPostgresCluster();
  project.provide('postgresAdminUrl', cluster.adminUrl);
  return () => cluster.stop();
}
