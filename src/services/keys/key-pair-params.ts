import type { KeySpec, KeyUsage } from '../../domain/key.js';
import { ECC_SPECS, ED25519, isEccSpec, isRsaSpec, RSA_SPECS } from '../../domain/key-spec.js';
import type { SigningKeyPairParams } from '../ports/index.js';

/** The token key pair a KMS key of this spec and usage is (undefined for symmetric and HMAC keys), made or imported alike. */
export function keyPairParams(keySpec: KeySpec, keyUsage: KeyUsage): SigningKeyPairParams | undefined {
  if (keySpec === ED25519) return { kind: 'EDWARDS' };
  if (isEccSpec(keySpec)) return { kind: 'EC', ecParams: Buffer.from(ECC_SPECS[keySpec].ecParams, 'hex'), usage: keyUsage === 'KEY_AGREEMENT' ? 'KEY_AGREEMENT' : 'SIGN_VERIFY' };
  if (isRsaSpec(keySpec)) return { kind: 'RSA', modulusBits: RSA_SPECS[keySpec].modulusBits, usage: keyUsage === 'ENCRYPT_DECRYPT' ? 'ENCRYPT_DECRYPT' : 'SIGN_VERIFY' };
  return undefined;
}
