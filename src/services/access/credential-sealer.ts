import type { KeyMaterialRef } from '../../domain/key.js';
import type { IvSequence } from '../crypto/iv-sequence.js';
import { UNSERIALIZED, type KeyVault, type Serialized } from '../ports/index.js';

/**
 * The token key that seals access-key secrets. Its id is outside what CreateKey
 * hands out and no key row names it, so no API call can reach it.
 */
export const CREDENTIALS_KEY: KeyMaterialRef = { keyId: '00000000-0000-0000-0000-000000000000', version: 1 };
const IV_BYTES = 12;

/**
 * Seals access-key secrets with AES-256-GCM inside the token: SigV4 needs the
 * secret itself, so it is kept, but only as ciphertext in the database. The AAD
 * binds each sealed secret to its access key id, so rows cannot be swapped.
 */
export class CredentialSealer {
  private ready: Promise<void> | undefined;

  constructor(
    private readonly vault: KeyVault,
    private readonly ivs: IvSequence,
    /** Instances sharing one database make the sealing key once: the check and the creation run serialized. */
    private readonly serialized: Serialized = UNSERIALIZED,
  ) {}

  async seal(accessKeyId: string, secret: string): Promise<Buffer> {
    await this.prepare();
    const iv = await this.ivs.next();
    const sealed = await this.vault.encrypt(CREDENTIALS_KEY, iv, aad(accessKeyId), Buffer.from(secret, 'utf8'));
    return Buffer.concat([iv, sealed]);
  }

  async open(accessKeyId: string, sealed: Buffer): Promise<string> {
    const plain = await this.vault.decrypt(CREDENTIALS_KEY, sealed.subarray(0, IV_BYTES), aad(accessKeyId), sealed.subarray(IV_BYTES));
    try {
      return plain.toString('utf8');
    } finally {
      plain.fill(0);
    }
  }

  /**
   * A round trip through the token (readiness): a fixed text sealed under the
   * sealing key with an AAD of its own and opened again; throws unless the same
   * text comes back.
   */
  async canary(): Promise<void> {
    await this.prepare();
    const iv = await this.ivs.next();
    const sealed = await this.vault.encrypt(CREDENTIALS_KEY, iv, CANARY_AAD, CANARY);
    const opened = await this.vault.decrypt(CREDENTIALS_KEY, iv, CANARY_AAD, sealed);
    if (!opened.equals(CANARY)) throw new Error('the token\'s canary did not come back unchanged');
  }

  /**
   * Creates the sealing key unless the token has it: with the first access key
   * when one process is alone, at start-up by the primary of several workers (so
   * that two workers never both make it). Idempotent per process.
   */
  prepare(): Promise<void> {
    this.ready ??= this.serialized('once/credentials-key', async () => {
      if (!(await this.vault.hasKey(CREDENTIALS_KEY))) await this.vault.createSymmetricKey(CREDENTIALS_KEY);
    }).catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }
}

const CANARY = Buffer.from('hsm-kms readiness canary', 'utf8');
const CANARY_AAD = Buffer.from('hsm-kms/readiness-canary/v1', 'utf8');

function aad(accessKeyId: string): Buffer {
  return Buffer.from(`hsm-kms/access-key-secret/v1\0${accessKeyId}`, 'utf8');
}
