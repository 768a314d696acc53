import { createHash } from 'node:crypto';
import { dryRunSucceeded, InvalidKeyUsageException, KMSInvalidSignatureException, UnsupportedOperationException, ValidationException } from '../../domain/errors.js';
import { derToRaw, rawToDer } from '../../domain/ecdsa-signature.js';
import type { KmsKey } from '../../domain/key.js';
import { ED25519, ECC_SPECS, isEccSpec, isRsaSpec, signingScheme, type SigningScheme } from '../../domain/key-spec.js';
import { assertNotPendingDeletion, assertUsableForCrypto } from '../../domain/key-state-rules.js';
import type { CallContext } from '../context.js';
import type { Authorizer } from '../access/authorizer.js';
import type { KeyVault } from '../ports/index.js';
import type { SlowLane } from './slow-lane.js';

export interface SignRequest {
  readonly keyId: string;
  readonly message: Buffer;
  readonly messageType: 'RAW' | 'DIGEST';
  readonly signingAlgorithm: string;
  readonly dryRun?: boolean;
}

interface Prepared {
  readonly key: KmsKey;
  readonly scheme: SigningScheme;
  readonly digest: Buffer;
}

/**
 * Sign and Verify with key pairs whose private half never leaves the token. The
 * digest of a RAW message is computed here (the message is not secret to KMS);
 * the token signs the digest. ECDSA signatures are DER, as AWS returns them.
 */
export class SignService {
  constructor(
    private readonly access: Authorizer,
    private readonly vault: KeyVault,
    /** RSA signing (milliseconds of CPU, more for RSA_4096) runs in the bounded lane of slow token work. */
    private readonly slowLane: SlowLane,
  ) {}

  async sign(ctx: CallContext, req: SignRequest): Promise<{ key: KmsKey; signature: Buffer }> {
    const { key, scheme, digest } = await this.prepare(ctx, req, 'Sign');
    const ref = { keyId: key.keyId, version: key.currentVersion };
    const rsa = scheme.padding === 'PSS' || scheme.padding === 'PKCS1';
    const signature = rsa ? await this.slowLane.run(() => this.vault.signDigest(ref, scheme, digest)) : await this.vault.signDigest(ref, scheme, digest);
    ctx.record.usedKeyMaterial(key.keyId, key.currentVersion);
    return { key, signature: scheme.padding === 'ECDSA' ? rawToDer(signature) : signature };
  }

  async verify(ctx: CallContext, req: SignRequest & { readonly signature: Buffer }): Promise<KmsKey> {
    const { key, scheme, digest } = await this.prepare(ctx, req, 'Verify');
    const signature = isEccSpec(key.keySpec) ? derToRaw(req.signature, ECC_SPECS[key.keySpec].coordinateBytes) : req.signature;
    const valid = signature !== undefined && (await this.vault.verifyDigest({ keyId: key.keyId, version: key.currentVersion }, scheme, digest, signature));
    ctx.record.usedKeyMaterial(key.keyId, key.currentVersion);
    if (!valid) throw new KMSInvalidSignatureException('The signature does not verify with this key, message and algorithm.');
    return key;
  }

  /** DER SubjectPublicKeyInfo, as GetPublicKey returns it. */
  async publicKey(ctx: CallContext, keyId: string): Promise<{ key: KmsKey; publicKey: Buffer }> {
    const key = await this.access.useKey(ctx, keyId, true, { action: 'GetPublicKey' });
    // AWS's key-state table: a key pending deletion shows no public key either.
    assertNotPendingDeletion(key);
    if (!isEccSpec(key.keySpec) && !isRsaSpec(key.keySpec) && key.keySpec !== ED25519) {
      throw new InvalidKeyUsageException(`${key.arn} is a ${key.keySpec} key, which has no public key.`);
    }
    return { key, publicKey: await this.vault.publicKeyInfo({ keyId: key.keyId, version: key.currentVersion }) };
  }

  private async prepare(ctx: CallContext, req: SignRequest, action: 'Sign' | 'Verify'): Promise<Prepared> {
    const extra = new Map([['kms:signingalgorithm', [req.signingAlgorithm]], ['kms:messagetype', [req.messageType]]]);
    const key = await this.access.useKey(ctx, req.keyId, true, { action, extra });
    assertUsableForCrypto(key);
    if (key.keyUsage !== 'SIGN_VERIFY') {
      throw new InvalidKeyUsageException(`${key.arn} key usage is ${key.keyUsage} which is not valid for Sign or Verify.`);
    }
    if (req.signingAlgorithm === 'ED25519_PH_SHA_512') {
      throw new UnsupportedOperationException('ED25519_PH_SHA_512 (pre-hashed Ed25519) is not supported: the PKCS#11 binding cannot pass CK_EDDSA_PARAMS. Use ED25519_SHA_512.');
    }
    const scheme = signingScheme(key.keySpec, req.signingAlgorithm);
    if (!scheme) throw new InvalidKeyUsageException(`${key.arn} has KeySpec ${key.keySpec}, which does not support ${req.signingAlgorithm}.`);
    let digest = req.message;
    if (scheme.padding === 'EDDSA') {
      // Pure Ed25519 signs the message itself.
      if (req.messageType !== 'RAW') throw new ValidationException('ED25519_SHA_512 requires MessageType RAW.');
    } else if (req.messageType === 'RAW') digest = createHash(scheme.hash).update(req.message).digest();
    else if (digest.length !== scheme.digestBytes) {
      throw new ValidationException(`A DIGEST message for ${req.signingAlgorithm} must be ${scheme.digestBytes} bytes, not ${digest.length}.`);
    }
    if (req.dryRun) throw dryRunSucceeded();
    return { key, scheme, digest };
  }
}
