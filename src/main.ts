import cluster from 'node:cluster';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { startService, StartupError } from './app.js';
import { runPrimary } from './cluster/primary.js';
import { runWorker } from './cluster/worker.js';

async function runStandalone(config: Config): Promise<void> {
  const service = await startService({ config });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    service.logger.info({ signal }, 'shutting down');
    service.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        service.logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

async function main(): Promise<void> {
  // Everything this process creates (data folder, token files, database, audit trail, credentials) is owner-only.
  process.umask(0o077);
  const config = await loadConfig(process.env);
  if (cluster.isWorker) await runWorker(config);
  else if (config.workers > 1) await runPrimary(config);
  else await runStandalone(config);
}

main().catch((e: unknown) => {
  process.stderr.write(`hsm-kms failed to start: ${e instanceof ConfigError || e instanceof StartupError ? e.message : (e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
