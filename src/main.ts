import { ConfigError, loadConfig } from './config/config.js';
import { startService } from './app.js';

async function main(): Promise<void> {
  const config = await loadConfig(process.env);
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

main().catch((e: unknown) => {
  process.stderr.write(`hsm-kms failed to start: ${e instanceof ConfigError ? e.message : (e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
