import { encodeHeader, parseBlob } from '../../domain/ciphertext-blob.js';
import { encodeEncryptionContext, type EncryptionContext } from '../../domain/encryption-context.js';
import { DryRunOperationException, dryRunSucceeded, IncorrectKeyException, InvalidCiphertextException, InvalidKeyUsageException, ValidationException } from '../../domain/errors.js';
import { keyMaterialId, storeKeyId, type KmsKey } from '../../domain/key.js';
import { assertUsableForCrypto } from '../../domain/key-state-rules.js';
import type { CallContext } from '../context.js';
import type { IvSequence } from './iv-sequence.js';
import type { Authorizer } from '../access/authorizer.js';
import type { KeyDirectory } from '../keys/key-directory.js';
import type { KeyVault } from '../ports/index.js';
import type { RsaEncryption } from './rsa-encryption.js';
import type { DataKeyPairs, KeyPairSpec } from './data-key-pairs.js';
import { isRsaSpec } from '../../domain/key-spec.js';

export const SYMMETRIC_DEFAULT = 'SYMMETRIC_DEFAULT';

export interface Sealed {
  readonly key: KmsKey;
  readonly ciphertextBlob: Buffer;
  /** The symmetric key material that sealed it (AWS names it in the data-key operations and ReEncrypt); none for RSA. */
  readonly keyMaterialId: string | undefined;
}

export interface Opened {
  readonly key: KmsKey;
  readonly plaintext: Buffer;
  /** The symmetric key material that opened it (AWS names it in Decrypt and ReEncrypt); none for RSA. */
  readonly keyMaterialId: string | undefined;
}

export interface EncryptRequest {
  readonly keyId: string;
  readonly plaintext: Buffer;
  readonly encryptionContext?: EncryptionContext;
  readonly encryptionAlgorithm?: string;
  readonly dryRun?: boolean;
}

export interface DecryptRequest {
  readonly ciphertextBlob: Buffer;
  readonly keyId?: string;
  readonly encryptionContext?: EncryptionContext;
  readonly encryptionAlgorithm?: string;
  readonly dryRun?: boolean;
}

export interface ReEncryptRequest {
  readonly ciphertextBlob: Buffer;
  /** DryRun with IGNORE_CIPHERTEXT: the source key is checked as named, the ciphertext never read. */
  readonly ignoreCiphertext?: boolean;
  readonly sourceKeyId?: string;
  readonly sourceEncryptionContext?: EncryptionContext;
  readonly sourceEncryptionAlgorithm?: string;
  readonly destinationKeyId: string;
  readonly destinationEncryptionContext?: EncryptionContext;
  readonly destinationEncryptionAlgorithm?: string;
  readonly dryRun?: boolean;
}

export type { KeyPairSpec } from './data-key-pairs.js';

export interface GenerateDataKeyPairRequest {
  readonly keyId: string;
  readonly keyPairSpec: KeyPairSpec;
  readonly encryptionContext?: EncryptionContext;
  readonly dryRun?: boolean;
}


export interface GenerateDataKeyRequest {
  readonly keyId: string;
  readonly numberOfBytes: number;
  readonly encryptionContext?: EncryptionContext;
  readonly dryRun?: boolean;
}

/** What Encrypt, Decrypt and ReEncrypt tell policy conditions. */
function conditionsOf(req: { encryptionContext?: EncryptionContext; encryptionAlgorithm?: string }) {
  return { encryptionContext: req.encryptionContext, encryptionAlgorithm: req.encryptionAlgorithm ?? SYMMETRIC_DEFAULT };
}

function assertEncryptDecrypt(key: KmsKey): void {
  if (key.keyUsage !== 'ENCRYPT_DECRYPT') {
    throw new InvalidKeyUsageException(`${key.arn} key usage is ${key.keyUsage} which is not valid for encryption or decryption.`);
  }
}

function assertSymmetricAlgorithm(key: KmsKey, algorithm: string | undefined): void {
  if (algorithm !== undefined && algorithm !== SYMMETRIC_DEFAULT) {
    throw new InvalidKeyUsageException(`${key.arn} key usage is ENCRYPT_DECRYPT with key spec SYMMETRIC_DEFAULT, which does not support ${algorithm}.`);
  }
}

/** Envelope encryption: every byte of key material stays in the token; this class only frames it. */
export class CryptoService {
  constructor(
    private readonly keys: KeyDirectory,
    private readonly access: Authorizer,
    private readonly vault: KeyVault,
    private readonly ivs: IvSequence,
    private readonly rsa: RsaEncryption,
    /** Data key pairs: one at a time, on a background thread at the lowest priority. */
    private readonly keyPairs: DataKeyPairs,
  ) {}

  async encrypt(ctx: CallContext, req: EncryptRequest): Promise<Sealed> {
    const key = await this.access.useKey(ctx, req.keyId, true, { action: 'Encrypt', ...conditionsOf(req) });
    return { key, ciphertextBlob: await this.encryptUnder(ctx, key, req), keyMaterialId: sealingMaterial(key) };
  }

  async decrypt(ctx: CallContext, req: DecryptRequest, action: 'Decrypt' | 'ReEncryptFrom' = 'Decrypt', extra?: ReadonlyMap<string, string[]>): Promise<Opened> {
    // Asymmetric ciphertexts name no key: AWS requires the KeyId for them.
    const named = req.keyId === undefined ? undefined : await this.access.resolve(ctx, action, req.keyId, true);
    if (named && isRsaSpec(named.keySpec)) {
      await this.access.authorize(ctx, named, { action, keyRef: req.keyId, ...conditionsOf(req), extra });
      assertUsableForCrypto(named);
      // A symmetric ciphertext of another key, decrypted with the default algorithm: the named key is the wrong one.
      if ((req.encryptionAlgorithm ?? 'SYMMETRIC_DEFAULT') === 'SYMMETRIC_DEFAULT' && symmetricBlobKeyId(req.ciphertextBlob) !== undefined) {
        throw incorrectKey();
      }
      assertEncryptDecrypt(named);
      const plaintext = await this.rsa.decrypt(named, req.ciphertextBlob, req);
      ctx.record.usedKeyMaterial(named.keyId, named.currentVersion);
      return { key: named, plaintext, keyMaterialId: undefined };
    }
    return this.open(ctx, action, req, named, extra);
  }

  /**
   * DryRun with IGNORE_CIPHERTEXT: whether the named key would let this caller
   * decrypt (its authorization, state, usage and algorithm), no ciphertext read.
   * Answers DryRunOperationException when it would.
   */
  async checkDecryptAccess(ctx: CallContext, req: Omit<DecryptRequest, 'ciphertextBlob' | 'dryRun'>, action: 'Decrypt' | 'ReEncryptFrom' = 'Decrypt', extra?: ReadonlyMap<string, string[]>): Promise<never> {
    if (req.keyId === undefined) throw new ValidationException(`${action === 'Decrypt' ? 'KeyId' : 'SourceKeyId'} is required when DryRunModifiers is IGNORE_CIPHERTEXT.`);
    const key = await this.access.useKey(ctx, req.keyId, true, { action, ...conditionsOf(req), extra });
    assertUsableForCrypto(key);
    assertEncryptDecrypt(key);
    if (isRsaSpec(key.keySpec)) this.rsa.checkRequest(key, req);
    else assertSymmetricAlgorithm(key, req.encryptionAlgorithm);
    throw dryRunSucceeded();
  }

  /** Decrypt then encrypt, each under its own key (symmetric or RSA), without the plaintext leaving the service. */
  async reEncrypt(ctx: CallContext, req: ReEncryptRequest): Promise<{ source: Opened; destination: Sealed }> {
    // The destination is authorized and checked first, so that DryRun answers for both keys.
    const destination = { keyId: req.destinationKeyId, encryptionContext: req.destinationEncryptionContext, encryptionAlgorithm: req.destinationEncryptionAlgorithm };
    const destinationKey = await this.access.resolve(ctx, 'ReEncryptTo', req.destinationKeyId, true);
    // kms:ReEncryptOnSameKey, for both authorizations: the source is the key named, or the one the ciphertext names.
    const sourceKeyId = await this.sourceKeyIdOf(ctx, req);
    const extra = new Map([['kms:reencryptonsamekey', [String(sourceKeyId === destinationKey.keyId)]]]);
    await this.access.authorize(ctx, destinationKey, { action: 'ReEncryptTo', keyRef: req.destinationKeyId, ...conditionsOf(destination), extra });
    await this.encryptUnder(ctx, destinationKey, { ...destination, plaintext: Buffer.alloc(1), dryRun: true }).catch((e: unknown) => {
      if (!(e instanceof DryRunOperationException)) throw e;
    });
    const sourceRequest = { keyId: req.sourceKeyId, encryptionContext: req.sourceEncryptionContext, encryptionAlgorithm: req.sourceEncryptionAlgorithm };
    if (req.ignoreCiphertext) return this.checkDecryptAccess(ctx, sourceRequest, 'ReEncryptFrom', extra);
    const source = await this.decrypt(
      ctx,
      {
        ciphertextBlob: req.ciphertextBlob,
        keyId: req.sourceKeyId,
        encryptionContext: req.sourceEncryptionContext,
        encryptionAlgorithm: req.sourceEncryptionAlgorithm,
        dryRun: req.dryRun,
      },
      'ReEncryptFrom',
      extra,
    );
    try {
      const ciphertextBlob = await this.encryptUnder(ctx, destinationKey, { ...destination, plaintext: source.plaintext });
      return { source, destination: { key: destinationKey, ciphertextBlob, keyMaterialId: sealingMaterial(destinationKey) } };
    } finally {
      source.plaintext.fill(0);
    }
  }

  /** Encrypt's checks and work once the key is authorized. */
  private async encryptUnder(ctx: CallContext, key: KmsKey, req: Omit<EncryptRequest, 'keyId'>): Promise<Buffer> {
    assertUsableForCrypto(key);
    assertEncryptDecrypt(key);
    if (isRsaSpec(key.keySpec)) {
      const ciphertext = await this.rsa.encrypt(key, req.plaintext, req);
      ctx.record.usedKeyMaterial(key.keyId, key.currentVersion);
      return ciphertext;
    }
    assertSymmetricAlgorithm(key, req.encryptionAlgorithm);
    if (req.dryRun) throw dryRunSucceeded();
    return this.seal(ctx, key, req.plaintext, req.encryptionContext);
  }

  async generateDataKey(ctx: CallContext, req: GenerateDataKeyRequest, action = 'GenerateDataKey'): Promise<Sealed & { plaintext: Buffer }> {
    const key = await this.usableKey(ctx, req, action);
    if (req.dryRun) throw dryRunSucceeded();
    // Token RNG plus one encrypt call: pkcs11js's async key generation and wrapping leak native memory.
    const plaintext = await this.vault.generateRandom(req.numberOfBytes);
    return { key, plaintext, ciphertextBlob: await this.seal(ctx, key, plaintext, req.encryptionContext), keyMaterialId: sealingMaterial(key) };
  }

  async generateDataKeyWithoutPlaintext(ctx: CallContext, req: GenerateDataKeyRequest): Promise<Sealed> {
    const { plaintext, ...sealed } = await this.generateDataKey(ctx, req, 'GenerateDataKeyWithoutPlaintext');
    plaintext.fill(0);
    return sealed;
  }

  /**
   * A data key pair: generated here with Node's crypto (the caller receives the
   * private key anyway), its PKCS#8 private key sealed under the KMS key exactly
   * like a data key.
   */
  async generateDataKeyPair(
    ctx: CallContext,
    req: GenerateDataKeyPairRequest,
    action: 'GenerateDataKeyPair' | 'GenerateDataKeyPairWithoutPlaintext',
  ): Promise<Sealed & { privateKey: Buffer; publicKey: Buffer }> {
    const key = await this.usableKey(ctx, { ...req, extra: new Map([['kms:datakeypairspec', [req.keyPairSpec]]]) }, action);
    if (req.dryRun) throw dryRunSucceeded();
    const { privateKey, publicKey } = await this.keyPairs.generate(req.keyPairSpec);
    return { key, privateKey, publicKey, ciphertextBlob: await this.seal(ctx, key, privateKey, req.encryptionContext), keyMaterialId: sealingMaterial(key) };
  }

  async generateRandom(ctx: CallContext, numberOfBytes: number): Promise<Buffer> {
    await this.access.authorizeWithoutKey(ctx, 'GenerateRandom');
    return this.vault.generateRandom(numberOfBytes);
  }

  /** The data-key operations: an authorized symmetric encryption key. */
  private async usableKey(
    ctx: CallContext,
    req: { keyId: string; encryptionContext?: EncryptionContext; extra?: Map<string, string[]> },
    action: string,
  ): Promise<KmsKey> {
    const key = await this.access.useKey(ctx, req.keyId, true, { action, encryptionContext: req.encryptionContext, encryptionAlgorithm: SYMMETRIC_DEFAULT, extra: req.extra });
    assertUsableForCrypto(key);
    assertEncryptDecrypt(key);
    if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw new InvalidKeyUsageException(`${key.arn} is not a symmetric encryption key; this operation needs one.`);
    return key;
  }

  private async seal(ctx: CallContext, key: KmsKey, plaintext: Buffer, context: EncryptionContext | undefined): Promise<Buffer> {
    const iv = await this.ivs.next();
    const header = encodeHeader({ keyId: key.keyId, keyVersion: key.currentVersion, iv });
    const aad = Buffer.concat([header, encodeEncryptionContext(context)]);
    const sealed = await this.vault.encrypt({ keyId: key.keyId, version: key.currentVersion }, iv, aad, plaintext);
    ctx.record.usedKeyMaterial(key.keyId, key.currentVersion);
    return Buffer.concat([header, sealed]);
  }

  /** The key a ReEncrypt's ciphertext is under, as far as it can be told before decrypting; undefined when it cannot. */
  private async sourceKeyIdOf(ctx: CallContext, req: ReEncryptRequest): Promise<string | undefined> {
    try {
      if (req.sourceKeyId !== undefined) return (await this.access.resolve(ctx, 'ReEncryptFrom', req.sourceKeyId, true)).keyId;
      return storeKeyId(parseBlob(req.ciphertextBlob).keyId, ctx.scope.region);
    } catch {
      return undefined; // the decryption that follows says what is wrong
    }
  }

  private async open(ctx: CallContext, action: 'Decrypt' | 'ReEncryptFrom', req: DecryptRequest, expected: KmsKey | undefined, extra?: ReadonlyMap<string, string[]>): Promise<Opened> {
    const parsed = parseBlob(req.ciphertextBlob);
    // A multi-Region key's ciphertext opens in each of its regions, under that region's key.
    const keyId = storeKeyId(parsed.keyId, ctx.scope.region);
    let key = await this.keys.get(keyId);
    if (key && parsed.keyVersion > key.currentVersion) {
      // Another instance may have rotated the key since it was cached: look once more.
      this.keys.forgetKey(key.keyId);
      key = await this.keys.get(keyId);
    }
    // A blob naming no key this service holds is indistinguishable from garbage.
    const garbage = () => new InvalidCiphertextException('The ciphertext refers to a key that does not exist or that you do not have access to.');
    // A ciphertext of another region's single-Region key opens only there (as AWS's).
    if (!key || key.region !== ctx.scope.region) throw garbage();
    // Authorized before anything else about the key is told (its versions, its kind, whether it was named).
    await this.access.authorize(ctx, key, { action, keyRef: req.keyId, ...conditionsOf(req), extra });
    if (key.keySpec !== 'SYMMETRIC_DEFAULT' || parsed.keyVersion < 1 || parsed.keyVersion > key.currentVersion) throw garbage();
    if (expected && expected.keyId !== key.keyId) {
      throw incorrectKey();
    }
    assertUsableForCrypto(key);
    assertEncryptDecrypt(key);
    assertSymmetricAlgorithm(key, req.encryptionAlgorithm);
    if (req.dryRun) throw dryRunSucceeded();
    const aad = Buffer.concat([parsed.header, encodeEncryptionContext(req.encryptionContext)]);
    const plaintext = await this.vault.decrypt({ keyId: key.keyId, version: parsed.keyVersion }, parsed.iv, aad, parsed.sealed);
    ctx.record.usedKeyMaterial(key.keyId, parsed.keyVersion);
    return { key, plaintext, keyMaterialId: keyMaterialId({ keyId: key.keyId, version: parsed.keyVersion }) };
  }
}

/** The material a key seals with now: its current version's (symmetric keys seal under it), none for RSA. */
function sealingMaterial(key: KmsKey): string | undefined {
  return isRsaSpec(key.keySpec) ? undefined : keyMaterialId({ keyId: key.keyId, version: key.currentVersion });
}

function incorrectKey(): IncorrectKeyException {
  return new IncorrectKeyException('The key ID in the request does not identify a key that can decrypt this ciphertext.');
}

/** The key a ciphertext in this service's symmetric format names, if it is one. */
function symmetricBlobKeyId(blob: Buffer): string | undefined {
  try {
    return parseBlob(blob).keyId;
  } catch {
    return undefined;
  }
}
