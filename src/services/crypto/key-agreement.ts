import { createPublicKey, type KeyObject } from 'node:crypto';
import { dryRunSucceeded, InvalidKeyUsageException, ValidationException } from '../../domain/errors.js';
import type { KmsKey } from '../../domain/key.js';
import { ECC_SPECS, isEccSpec, type EccKeySpec } from '../../domain/key-spec.js';
import { assertUsableForCrypto } from '../../domain/key-state-rules.js';
import type { Authorizer } from '../access/authorizer.js';
import type { CallContext } from '../context.js';
import type { KeyVault } from '../ports/index.js';

export interface DeriveSharedSecretRequest {
  readonly keyId: string;
  readonly keyAgreementAlgorithm: string;
  /** The peer's public key, DER SubjectPublicKeyInfo. */
  readonly publicKey: Buffer;
  readonly dryRun?: boolean;
}

/** Node's name of each NIST curve a KEY_AGREEMENT key may be on. */
const NODE_CURVES: Readonly<Record<string, string>> = { ECC_NIST_P256: 'prime256v1', ECC_NIST_P384: 'secp384r1', ECC_NIST_P521: 'secp521r1' };

/**
 * DeriveSharedSecret: ECDH between a KEY_AGREEMENT key's private half, in the
 * token, and a peer's public key. The raw shared secret (the x coordinate, as
 * AWS returns it) is derived into a one-use object and read once.
 */
export class KeyAgreement {
  constructor(
    private readonly access: Authorizer,
    private readonly vault: KeyVault,
  ) {}

  async deriveSharedSecret(ctx: CallContext, req: DeriveSharedSecretRequest): Promise<{ key: KmsKey; sharedSecret: Buffer }> {
    const key = await this.access.useKey(ctx, req.keyId, true, { action: 'DeriveSharedSecret', extra: new Map([['kms:keyagreementalgorithm', [req.keyAgreementAlgorithm]]]) });
    assertUsableForCrypto(key);
    const spec = key.keySpec;
    if (key.keyUsage !== 'KEY_AGREEMENT' || !isEccSpec(spec)) {
      throw new InvalidKeyUsageException(`${key.arn} key usage is ${key.keyUsage}, which is not valid for DeriveSharedSecret.`);
    }
    if (req.keyAgreementAlgorithm !== 'ECDH') throw new InvalidKeyUsageException(`${key.arn} supports the key agreement algorithm ECDH, not ${req.keyAgreementAlgorithm}.`);
    const peerPoint = uncompressedPoint(peerKey(req.publicKey), spec, key.arn);
    if (req.dryRun) throw dryRunSucceeded();
    const sharedSecret = await this.vault.deriveSharedSecret({ keyId: key.keyId, version: key.currentVersion }, peerPoint, ECC_SPECS[spec].coordinateBytes);
    ctx.record.usedKeyMaterial(key.keyId, key.currentVersion);
    return { key, sharedSecret };
  }
}

function peerKey(der: Buffer): KeyObject {
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw new ValidationException('PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo.');
  }
}

/** The peer's point, 04 || x || y, checked to be on the key's own curve (Node refuses points off their curve). */
function uncompressedPoint(peer: KeyObject, spec: EccKeySpec, arn: string): Buffer {
  if (peer.asymmetricKeyType !== 'ec' || peer.asymmetricKeyDetails?.namedCurve !== NODE_CURVES[spec]) {
    throw new ValidationException(`PublicKey must be an elliptic-curve public key on the curve of ${arn} (${spec}).`);
  }
  const { x, y } = peer.export({ format: 'jwk' });
  const size = ECC_SPECS[spec].coordinateBytes;
  const coordinate = (b64: string | undefined) => {
    const raw = Buffer.from(b64 ?? '', 'base64url');
    return Buffer.concat([Buffer.alloc(size - raw.length), raw]);
  };
  return Buffer.concat([Buffer.from([4]), coordinate(x), coordinate(y)]);
}
