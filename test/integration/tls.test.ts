import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent } from 'node:https';
import { connect } from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { defaultKeyPolicy } from '../../src/domain/default-policy.js';
import { auditEvents } from '../support/audit.js';
import { kmsClientConfig, startTestService, type TestService } from '../support/service.js';

const root = path.resolve(import.meta.dirname, '../..');
let certDir: string;
let kms: TestService;
let ca: Buffer;
let client: KMSClient;

beforeAll(async () => {
  certDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-cert-'));
  // The development certificate, made by the project's own script.
  execFileSync('bash', [path.join(root, 'scripts/dev-cert.sh'), certDir], { stdio: 'pipe' });
  ca = await readFile(path.join(certDir, 'cert.pem'));
  kms = await startTestService({ config: { tls: { certFile: path.join(certDir, 'cert.pem'), keyFile: path.join(certDir, 'key.pem') } } });
  client = new KMSClient({ ...kmsClientConfig(kms.endpoint), requestHandler: { httpsAgent: new Agent({ ca }) } });
});

afterAll(async () => {
  client?.destroy();
  await kms?.cleanup();
  await rm(certDir, { recursive: true, force: true });
});

/** The TLS version a handshake ends with, or the error that ended it. */
function handshake(port: number, version: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', minVersion: version, maxVersion: version }, () => {
      resolve(socket.getProtocol() ?? '?');
      socket.end();
    });
    socket.on('error', (e) => resolve(`refused: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
  });
}

describe('HTTPS', () => {
  it('serves the API over TLS 1.2 and 1.3 with the development certificate, never older TLS', async () => {
    expect(kms.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { KeyMetadata } = await client.send(new CreateKeyCommand({}));
    const { CiphertextBlob } = await client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('over tls') }));
    expect(Buffer.from((await client.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!).toString()).toBe('over tls');
    const port = kms.service.port;
    expect(await handshake(port, 'TLSv1.3')).toBe('TLSv1.3');
    expect(await handshake(port, 'TLSv1.2')).toBe('TLSv1.2');
    expect(await handshake(port, 'TLSv1.1')).toMatch(/^refused/);
  });

  it('tells policies aws:SecureTransport true and the audit trail its tlsDetails', async () => {
    // Encryption only over TLS: a deny that a plain-HTTP call would meet.
    const policy = JSON.parse(defaultKeyPolicy('111122223333')) as { Statement: object[] };
    policy.Statement.push({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:Encrypt', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    const { KeyMetadata } = await client.send(new CreateKeyCommand({ Policy: JSON.stringify(policy) }));
    const encrypted = await client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('secure') }));
    const event = (await auditEvents(kms.service.audit.dir)).find((e) => e.requestID === encrypted.$metadata.requestId)!;
    expect(event.errorCode).toBeUndefined();
    expect(event.tlsDetails).toMatchObject({ tlsVersion: 'TLSv1.3', cipherSuite: expect.stringMatching(/^TLS_/), clientProvidedHostHeader: `127.0.0.1:${kms.service.port}` });
  });
});

describe('plain HTTP beyond loopback', () => {
  it('is refused unless asked for explicitly', () => {
    expect(() => parseConfig({ host: '0.0.0.0' })).toThrow(/without TLS would send secrets .* KMS_ALLOW_PLAINTEXT_HTTP=true/);
    expect(parseConfig({ host: '0.0.0.0', allowPlaintextHttp: 'true' }).allowPlaintextHttp).toBe(true);
    expect(parseConfig({ host: '0.0.0.0', tls: { certFile: '/c.pem', keyFile: '/k.pem' } }).host).toBe('0.0.0.0');
    expect(parseConfig({ host: '127.0.0.1' }).host).toBe('127.0.0.1');
    expect(() => parseConfig({ tls: { certFile: '/c.pem' } })).toThrow(/KMS_TLS_CERT_FILE and KMS_TLS_KEY_FILE go together/);
  });
});
