import type { Logger } from 'pino';
import { KeyUnavailableException } from '../../domain/errors.js';
import { awsKeyId, keyMaterialId, type KeyMaterialRef } from '../../domain/key.js';
import type { HmacKeySpec, MacAlgorithm, SigningScheme } from '../../domain/key-spec.js';
import { KeyVersionNotVerified, type Clock, type KeyVault, type KeyVersionCheck, type KeyVersionVerdict, type KeyVersionCheckStore, type SigningKeyPairParams, type WrappingAlgorithm } from '../ports/index.js';

type CheckRecords = KeyVersionCheckStore;

const UNAVAILABLE = 'The KMS key is not available: its key material failed verification in the key store.';

/**
 * The token as every use case sees it: each key version's token object is
 * verified before this process first uses it (the token refuses any other), and
 * each one made is recorded with its check value, so that nothing in the token
 * is trusted by its id alone. A version whose object fails is never used: every
 * call answers KeyUnavailableException and the operational log says why, once.
 */
export class VerifiedKeyVault implements KeyVault {
  /** Versions whose object failed verification (not merely missing): refused until a restart, after the token is repaired. */
  private readonly refused = new Set<string>();
  private readonly verifying = new Map<string, Promise<void>>();

  constructor(
    private readonly token: KeyVault,
    private readonly records: CheckRecords,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Runs a use of a key version; the first one in this process verifies the version's object first. */
  private use<T>(ref: KeyMaterialRef, call: () => Promise<T>): Promise<T> {
    return call().catch((e: unknown) => {
      if (!(e instanceof KeyVersionNotVerified)) throw e;
      return this.verify(ref).then(call);
    });
  }

  private verify(ref: KeyMaterialRef): Promise<void> {
    // A multi-Region key's regions share the object: it is verified once for all.
    const key = keyMaterialId(ref);
    if (this.refused.has(key)) return Promise.reject(new KeyUnavailableException(UNAVAILABLE));
    let running = this.verifying.get(key);
    if (!running) {
      running = this.verifyOnce(ref, key).finally(() => this.verifying.delete(key));
      this.verifying.set(key, running);
    }
    return running;
  }

  private async verifyOnce(ref: KeyMaterialRef, key: string): Promise<void> {
    const recorded = await this.records.getKeyVersionCheck(ref);
    const verdict: KeyVersionVerdict = await this.token.verifyKeyVersion(ref, recorded);
    if (!verdict.usable) {
      if (!verdict.missing) this.refused.add(key);
      this.logger.error(
        { keyId: awsKeyId(ref.keyId), version: ref.version, problems: verdict.problems },
        verdict.missing
          ? 'a key version has no object in the token: it cannot be used'
          : 'a key version\'s token object failed verification: it is not the object this service made, or was changed, and is never used; restart once the token is repaired',
      );
      throw new KeyUnavailableException(UNAVAILABLE);
    }
    if (!recorded) {
      await this.records.saveKeyVersionCheck(ref, verdict.check, 'FIRST_USE', this.clock.now());
      this.logger.warn(
        { keyId: awsKeyId(ref.keyId), version: ref.version, legacyGaps: verdict.legacyGaps },
        'a key version made before check values were recorded: its token object was verified and its check value recorded on this first use',
      );
    }
  }

  private async made(ref: KeyMaterialRef, creation: Promise<KeyVersionCheck>): Promise<KeyVersionCheck> {
    const check = await creation;
    await this.records.saveKeyVersionCheck(ref, check, 'CREATION', this.clock.now());
    return check;
  }

  createSymmetricKey(ref: KeyMaterialRef): Promise<KeyVersionCheck> {
    return this.made(ref, this.token.createSymmetricKey(ref));
  }

  createHmacKey(ref: KeyMaterialRef, spec: HmacKeySpec): Promise<KeyVersionCheck> {
    return this.made(ref, this.token.createHmacKey(ref, spec));
  }

  createSigningKeyPair(ref: KeyMaterialRef, params: SigningKeyPairParams): Promise<KeyVersionCheck> {
    return this.made(ref, this.token.createSigningKeyPair(ref, params));
  }

  async importSymmetricKey(ref: KeyMaterialRef | undefined, tokenId: string, algorithm: WrappingAlgorithm, wrapped: Buffer): Promise<Buffer> {
    const check = await this.token.importSymmetricKey(ref, tokenId, algorithm, wrapped);
    if (ref) await this.records.saveKeyVersionCheck(ref, { value: check, madeInToken: false }, 'CREATION', this.clock.now());
    return check;
  }

  async importKeyPair(ref: KeyMaterialRef | undefined, tokenId: string, algorithm: WrappingAlgorithm, wrapped: Buffer, params: SigningKeyPairParams): Promise<Buffer> {
    const check = await this.token.importKeyPair(ref, tokenId, algorithm, wrapped, params);
    if (ref) await this.records.saveKeyVersionCheck(ref, { value: check, madeInToken: false }, 'CREATION', this.clock.now());
    return check;
  }

  verifyKeyVersion(ref: KeyMaterialRef, recorded: KeyVersionCheck | undefined): Promise<KeyVersionVerdict> {
    return this.token.verifyKeyVersion(ref, recorded);
  }

  mac(ref: KeyMaterialRef, algorithm: MacAlgorithm, message: Buffer): Promise<Buffer> {
    return this.use(ref, () => this.token.mac(ref, algorithm, message));
  }

  publicKeyInfo(ref: KeyMaterialRef): Promise<Buffer> {
    return this.use(ref, () => this.token.publicKeyInfo(ref));
  }

  signDigest(ref: KeyMaterialRef, scheme: SigningScheme, digest: Buffer): Promise<Buffer> {
    return this.use(ref, () => this.token.signDigest(ref, scheme, digest));
  }

  verifyDigest(ref: KeyMaterialRef, scheme: SigningScheme, digest: Buffer, signature: Buffer): Promise<boolean> {
    return this.use(ref, () => this.token.verifyDigest(ref, scheme, digest, signature));
  }

  rsaOaepDecrypt(ref: KeyMaterialRef, hash: 'SHA_1' | 'SHA_256', ciphertext: Buffer): Promise<Buffer> {
    return this.use(ref, () => this.token.rsaOaepDecrypt(ref, hash, ciphertext));
  }

  deriveSharedSecret(ref: KeyMaterialRef, peerPoint: Buffer, secretBytes: number): Promise<Buffer> {
    return this.use(ref, () => this.token.deriveSharedSecret(ref, peerPoint, secretBytes));
  }

  encrypt(ref: KeyMaterialRef, iv: Buffer, aad: Buffer, plaintext: Buffer): Promise<Buffer> {
    return this.use(ref, () => this.token.encrypt(ref, iv, aad, plaintext));
  }

  decrypt(ref: KeyMaterialRef, iv: Buffer, aad: Buffer, sealed: Buffer): Promise<Buffer> {
    return this.use(ref, () => this.token.decrypt(ref, iv, aad, sealed));
  }

  destroyKey(ref: KeyMaterialRef): Promise<boolean> {
    return this.token.destroyKey(ref);
  }

  hasKey(ref: KeyMaterialRef): Promise<boolean> {
    return this.token.hasKey(ref);
  }

  ivHighWater(): Promise<number> {
    return this.token.ivHighWater();
  }

  raiseIvHighWater(fixedField: number): Promise<void> {
    return this.token.raiseIvHighWater(fixedField);
  }

  generateRandom(length: number): Promise<Buffer> {
    return this.token.generateRandom(length);
  }

  missingWrappingMechanism(algorithm: WrappingAlgorithm): string | undefined {
    return this.token.missingWrappingMechanism(algorithm);
  }

  createImportWrappingKey(tokenId: string, modulusBits: number): Promise<Buffer> {
    return this.token.createImportWrappingKey(tokenId, modulusBits);
  }

  destroyImportWrappingKey(tokenId: string): Promise<void> {
    return this.token.destroyImportWrappingKey(tokenId);
  }
}
