import path from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { DockerComposeEnvironment, GenericContainer, getContainerRuntimeClient, Wait, type StartedTestContainer } from 'testcontainers';
import { describe, expect, it } from 'vitest';
import { kmsClient } from '../support/service.js';

/**
 * The image and the compose file, with testcontainers. Where no Docker engine
 * runs (these machines have only the client), both skip and say so.
 */
const root = path.resolve(import.meta.dirname, '../..');
const noEngine: string | undefined = await getContainerRuntimeClient().then(
  () => undefined,
  (e: Error) => e.message.split('\n')[0]!.slice(0, 160),
);
const skipped = noEngine === undefined ? '' : ` (skipped: no Docker engine is reachable: ${noEngine})`;
const ADMIN = { accessKeyId: 'AKIALOCALDEVELOPMENT', secretAccessKey: 'local-development-secret-0123456789' };

async function roundTrip(endpoint: string): Promise<void> {
  const client = kmsClient(endpoint, ADMIN.accessKeyId, ADMIN.secretAccessKey);
  try {
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const { CiphertextBlob } = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('in a container') }));
    expect(Buffer.from((await client.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!).toString()).toBe('in a container');
  } finally {
    client.destroy();
  }
}

describe.skipIf(noEngine !== undefined)(`the Docker image${skipped}`, () => {
  it('builds, runs alone on its embedded token, turns ready, and serves the SDK', async () => {
    const image = await GenericContainer.fromDockerfile(root).build('hsm-kms:test', { deleteOnExit: false });
    let container: StartedTestContainer | undefined;
    try {
      container = await image
        .withEnvironment({ KMS_ADMIN_ACCESS_KEY_ID: ADMIN.accessKeyId, KMS_ADMIN_SECRET_ACCESS_KEY: ADMIN.secretAccessKey })
        .withExposedPorts(8080)
        .withWaitStrategy(Wait.forHttp('/readyz', 8080).forStatusCode(200))
        .start();
      await roundTrip(`http://${container.getHost()}:${container.getMappedPort(8080)}`);
      // Runs as a user of its own, not root.
      expect((await container.exec(['id', '-u'])).output.trim()).not.toBe('0');
    } finally {
      await container?.stop();
    }
  }, 600_000);
});

describe.skipIf(noEngine !== undefined)(`docker compose up${skipped}`, () => {
  it('starts the service on PostgreSQL and serves the SDK on the port the compose file publishes', async () => {
    const environment = await new DockerComposeEnvironment(root, 'docker-compose.yml').withBuild().withWaitStrategy('kms-1', Wait.forHttp('/readyz', 8080)).up();
    try {
      await roundTrip('http://127.0.0.1:8080');
      // seed.example.yaml, which the compose file mounts: its user encrypts under its key's alias.
      const app = kmsClient('http://127.0.0.1:8080', 'AKIAHSMKMSEXAMPLEAPP', 'hsmKmsLocalAppSecretNotForRealUse0000000');
      await app.send(new EncryptCommand({ KeyId: 'alias/payments', Plaintext: Buffer.from('seeded') }));
      app.destroy();
    } finally {
      await environment.down({ removeVolumes: true });
    }
  }, 900_000);
});
