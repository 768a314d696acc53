import path from 'node:path';
import { writeFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactConfig } from '../../src/config/config.js';

describe('configuration', () => {
  it('applies the documented defaults', async () => {
    const c = await loadConfig({});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8080, region: 'us-east-1', accountId: '111122223333', logLevel: 'info' });
    expect(c.dataDir).toBe(path.resolve('./.kms'));
    expect(c.pkcs11.module).toBeUndefined();
    expect(c.admin).toBeUndefined();
  });

  it('reads every documented environment variable', async () => {
    const c = await loadConfig({
      KMS_HOST: '0.0.0.0',
      KMS_PORT: '9000',
      KMS_DATA_DIR: '/var/lib/kms',
      KMS_REGION: 'eu-west-1',
      KMS_ACCOUNT_ID: '123456789012',
      KMS_ADMIN_ACCESS_KEY_ID: 'AKIAEXAMPLE00000000',
      KMS_ADMIN_SECRET_ACCESS_KEY: 'secret-secret-secret',
      KMS_PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so',
      KMS_PKCS11_TOKEN_LABEL: 'prod',
      KMS_PKCS11_PIN_FILE: '/run/secrets/pin',
      KMS_DATABASE: '/var/lib/kms/db.sqlite',
      KMS_TLS_CERT_FILE: '/etc/kms/cert.pem',
      KMS_TLS_KEY_FILE: '/etc/kms/key.pem',
      KMS_ALLOW_PLAINTEXT_HTTP: 'false',
      KMS_AUDIT: 'on',
      KMS_AUDIT_DIR: '/var/log/kms-audit',
      KMS_AUDIT_DIGEST_INTERVAL_MS: '600000',
      KMS_AUDIT_MAX_FILE_BYTES: '1048576',
      KMS_AUDIT_MAX_FILE_AGE_MS: '3600000',
      KMS_KEY_USAGE_FLUSH_MS: '2000',
    });
    expect(c).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      dataDir: '/var/lib/kms',
      region: 'eu-west-1',
      accountId: '123456789012',
      admin: { accessKeyId: 'AKIAEXAMPLE00000000', secretAccessKey: 'secret-secret-secret' },
      pkcs11: { module: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'prod', pinFile: '/run/secrets/pin' },
      database: '/var/lib/kms/db.sqlite',
      tls: { certFile: '/etc/kms/cert.pem', keyFile: '/etc/kms/key.pem' },
      allowPlaintextHttp: false,
      audit: { mode: 'on', dir: '/var/log/kms-audit', digestIntervalMs: 600_000, maxFileBytes: 1_048_576, maxFileAgeMs: 3_600_000 },
      keyUsageFlushMs: 2000,
    });
  });

  it('lets environment variables override the optional config file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kms-config-'));
    const file = path.join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ port: 7000, region: 'ap-south-1', pkcs11: { sessions: 4 } }));
    const c = await loadConfig({ KMS_CONFIG_FILE: file, KMS_REGION: 'us-west-2' });
    expect(c.port).toBe(7000);
    expect(c.region).toBe('us-west-2');
    expect(c.pkcs11.sessions).toBe(4);
  });

  it('reports every problem at once', async () => {
    const err = await loadConfig({ KMS_PORT: 'eighty', KMS_ACCOUNT_ID: '12', KMS_REGION: 'mars' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toContain('port');
    expect(message).toContain('accountId');
    expect(message).toContain('region');
  });

  it('requires module, label and a PIN together for an external token', async () => {
    await expect(loadConfig({ KMS_PKCS11_MODULE: '/x.so' })).rejects.toThrow(/KMS_PKCS11_TOKEN_LABEL/);
    await expect(loadConfig({ KMS_PKCS11_MODULE: '/x.so', KMS_PKCS11_TOKEN_LABEL: 't' })).rejects.toThrow(/KMS_PKCS11_PIN/);
    await expect(loadConfig({ KMS_PKCS11_MODULE: '/x.so', KMS_PKCS11_TOKEN_LABEL: 't', KMS_PKCS11_PIN: '1', KMS_PKCS11_PIN_FILE: '/p' })).rejects.toThrow(/not both/);
  });

  it('takes a PIN alone as the embedded token\'s, kept outside the data folder', async () => {
    const c = await loadConfig({ KMS_PKCS11_PIN_FILE: '/run/secrets/kms-user-pin' });
    expect(c.pkcs11.module).toBeUndefined();
    expect(c.pkcs11.pinFile).toBe('/run/secrets/kms-user-pin');
  });

  it('refuses the embedded token under KMS_PROFILE=production, and takes an HSM', async () => {
    await expect(loadConfig({ KMS_PROFILE: 'production' })).rejects.toThrow(/KMS_PROFILE=production refuses the embedded SoftHSM token/);
    await expect(loadConfig({ KMS_PROFILE: 'production', KMS_PKCS11_PIN_FILE: '/p' })).rejects.toThrow(/embedded SoftHSM token/);
    const hsm = await loadConfig({ KMS_PROFILE: 'production', KMS_PKCS11_MODULE: '/opt/hsm/lib.so', KMS_PKCS11_TOKEN_LABEL: 'kms', KMS_PKCS11_PIN_FILE: '/p' });
    expect(hsm.profile).toBe('production');
    expect((await loadConfig({})).profile).toBe('development');
    await expect(loadConfig({ KMS_PROFILE: 'staging' })).rejects.toThrow(/profile/);
  });

  it('never shows secrets when redacted', async () => {
    const c = await loadConfig({
      KMS_ADMIN_ACCESS_KEY_ID: 'AKIAEXAMPLE00000000',
      KMS_ADMIN_SECRET_ACCESS_KEY: 'very-secret-value-123',
      KMS_PKCS11_MODULE: '/x.so',
      KMS_PKCS11_TOKEN_LABEL: 't',
      KMS_PKCS11_PIN: '98765432',
    });
    const shown = JSON.stringify(redactConfig(c));
    expect(shown).not.toContain('very-secret-value-123');
    expect(shown).not.toContain('98765432');
    expect(shown).toContain('AKIAEXAMPLE00000000');
  });
});
