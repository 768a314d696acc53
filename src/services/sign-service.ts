import { createHash, createPublicKey } from 'node:crypto';
import { dryRunSucceeded, InvalidKeyUsageException, KMSInvalidSignatureException, ValidationException } from '../domain/errors.js';
import { derToRaw, rawToDer } from '../domain/ecdsa-signature.js';
import type { KmsKey } from '../domain/key.js';
import { ECC_SPECS, isEccSpec, type EccKeySpec } from '../domain/key-spec.js';
import { assertUsableForCrypto } from '../domain/key-state-rules.js';
import type { CallContext } from './context.js';
import type { KeyDirectory } from './key-directory.js';
import type { KeyVault } from './ports.js';

export interface SignRequest {
  readonly keyId: string;
  readonly message: Buffer;
  readonly messageType: 'RAW' | 'DIGEST';
  readonly signingAlgorithm: string;
  readonly dryRun?: boolean;
}

type SigningKey = KmsKey & { readonly keySpec: EccKeySpec };

/**
 * Sign and Verify with key pairs whose private half never leaves the token. The
 * digest of a RAW message is computed here (the message is not secret to KMS);
 * the token signs the digest. Signatures are DER, as AWS returns them.
 */
export class SignService {
  private readonly publicKeys = new Map<string, Buffer>();

  constructor(
    private readonly keys: KeyDirectory,
    private readonly vault: KeyVault,
  ) {}

  async sign(ctx: CallContext, req: SignRequest): Promise<{ key: KmsKey; signature: Buffer }> {
    const { key, digest } = await this.prepare(ctx, req);
    const raw = await this.vault.signDigest({ keyId: key.keyId, version: key.currentVersion }, digest);
    return { key, signature: rawToDer(raw) };
  }

  async verify(ctx: CallContext, req: SignRequest & { readonly signature: Buffer }): Promise<KmsKey> {
    const { key, digest } = await this.prepare(ctx, req);
    const raw = derToRaw(req.signature, ECC_SPECS[key.keySpec].coordinateBytes);
    const valid = raw !== undefined && (await this.vault.verifyDigest({ keyId: key.keyId, version: key.currentVersion }, digest, raw));
    if (!valid) throw new KMSInvalidSignatureException('The signature does not verify with this key, message and algorithm.');
    return key;
  }

  /** DER SubjectPublicKeyInfo, as GetPublicKey returns it; immutable, so cached. */
  async publicKey(ctx: CallContext, keyId: string): Promise<{ key: KmsKey; publicKey: Buffer }> {
    const key = await this.keys.resolve(ctx, keyId, true);
    if (!isEccSpec(key.keySpec)) throw new UnsupportedPublicKey(key);
    const cacheKey = `${key.keyId}/${key.currentVersion}`;
    let spki = this.publicKeys.get(cacheKey);
    if (!spki) {
      const spec = ECC_SPECS[key.keySpec];
      const n = spec.coordinateBytes;
      const attribute = await this.vault.eccPublicPoint({ keyId: key.keyId, version: key.currentVersion });
      // PKCS#11 wraps the point in a DER OCTET STRING; some tokens return it bare.
      const point = attribute.subarray(attribute.length - (1 + 2 * n));
      const jwk = { kty: 'EC', crv: spec.jwkCurve, x: point.subarray(1, 1 + n).toString('base64url'), y: point.subarray(1 + n).toString('base64url') };
      spki = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' });
      this.publicKeys.set(cacheKey, spki);
    }
    return { key, publicKey: spki };
  }

  private async prepare(ctx: CallContext, req: SignRequest): Promise<{ key: SigningKey; digest: Buffer }> {
    const key = await this.keys.resolve(ctx, req.keyId, true);
    assertUsableForCrypto(key);
    if (key.keyUsage !== 'SIGN_VERIFY' || !isEccSpec(key.keySpec)) {
      throw new InvalidKeyUsageException(`${key.arn} key usage is ${key.keyUsage} which is not valid for Sign or Verify.`);
    }
    const spec = ECC_SPECS[key.keySpec];
    if (req.signingAlgorithm !== spec.signingAlgorithm) {
      throw new InvalidKeyUsageException(`${key.arn} has KeySpec ${key.keySpec}, which supports ${spec.signingAlgorithm}, not ${req.signingAlgorithm}.`);
    }
    let digest = req.message;
    if (req.messageType === 'RAW') digest = createHash(spec.hash).update(req.message).digest();
    else if (digest.length !== spec.digestBytes) {
      throw new ValidationException(`A DIGEST message for ${spec.signingAlgorithm} must be ${spec.digestBytes} bytes, not ${digest.length}.`);
    }
    if (req.dryRun) throw dryRunSucceeded();
    return { key: key as SigningKey, digest };
  }
}

class UnsupportedPublicKey extends InvalidKeyUsageException {
  constructor(key: KmsKey) {
    super(`${key.arn} is a ${key.keySpec} key, which has no public key.`);
  }
}
