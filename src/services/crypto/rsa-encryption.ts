import { constants, createPublicKey, publicEncrypt } from 'node:crypto';
import type { EncryptionContext } from '../../domain/encryption-context.js';
import { dryRunSucceeded, InvalidCiphertextException, InvalidKeyUsageException, ValidationException } from '../../domain/errors.js';
import type { KmsKey } from '../../domain/key.js';
import { isRsaSpec, RSA_SPECS } from '../../domain/key-spec.js';
import type { KeyVault } from '../ports/index.js';
import type { SlowLane } from './slow-lane.js';

type OaepAlgorithm = 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256';
const HASH_BYTES: Record<OaepAlgorithm, number> = { RSAES_OAEP_SHA_1: 20, RSAES_OAEP_SHA_256: 32 };

export interface RsaRequest {
  readonly encryptionAlgorithm?: string;
  readonly encryptionContext?: EncryptionContext;
  readonly dryRun?: boolean;
}

/**
 * Encrypt and Decrypt under RSA ENCRYPT_DECRYPT keys (RSAES-OAEP). Encryption uses
 * only the public key; decryption happens with the private half in the token.
 * AWS's rules: the algorithm is required, there is no encryption context, and the
 * plaintext is at most k - 2·hLen - 2 bytes.
 */
export class RsaEncryption {
  constructor(
    private readonly vault: KeyVault,
    /** RSA private-key work: in the bounded lane of slow token work, off the fast lane's threads. */
    private readonly slowLane: SlowLane,
  ) {}

  async encrypt(key: KmsKey, plaintext: Buffer, req: RsaRequest): Promise<Buffer> {
    const { algorithm, modulusBytes } = this.checkRequest(key, req);
    const limit = modulusBytes - 2 * HASH_BYTES[algorithm] - 2;
    if (plaintext.length > limit) throw new ValidationException(`${algorithm} with ${key.keySpec} encrypts at most ${limit} bytes.`);
    if (req.dryRun) throw dryRunSucceeded();
    const spki = await this.vault.publicKeyInfo({ keyId: key.keyId, version: key.currentVersion });
    const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: algorithm === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256' }, plaintext);
  }

  async decrypt(key: KmsKey, ciphertext: Buffer, req: RsaRequest): Promise<Buffer> {
    const { algorithm, modulusBytes } = this.checkRequest(key, req);
    if (ciphertext.length !== modulusBytes) throw new InvalidCiphertextException('The ciphertext is not valid for this key and encryption context.');
    if (req.dryRun) throw dryRunSucceeded();
    return this.slowLane.run(() => this.vault.rsaOaepDecrypt({ keyId: key.keyId, version: key.currentVersion }, algorithm === 'RSAES_OAEP_SHA_1' ? 'SHA_1' : 'SHA_256', ciphertext));
  }

  /** Whether the request fits the key (algorithm, no encryption context), before any ciphertext is read. */
  checkRequest(key: KmsKey, req: RsaRequest): { algorithm: OaepAlgorithm; modulusBytes: number } {
    if (!isRsaSpec(key.keySpec)) throw new InvalidKeyUsageException(`${key.arn} is not an RSA key.`);
    const algorithm = req.encryptionAlgorithm;
    if (algorithm !== 'RSAES_OAEP_SHA_1' && algorithm !== 'RSAES_OAEP_SHA_256') {
      throw new InvalidKeyUsageException(`${key.arn} is an RSA key: EncryptionAlgorithm must be RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256, not ${algorithm ?? 'SYMMETRIC_DEFAULT'}.`);
    }
    if (req.encryptionContext && Object.keys(req.encryptionContext).length > 0) {
      throw new ValidationException('EncryptionContext is not supported with asymmetric KMS keys.');
    }
    return { algorithm, modulusBytes: RSA_SPECS[key.keySpec].modulusBits / 8 };
  }
}
