import type * as P11 from 'pkcs11js';
import { pkcs11js } from './pkcs11js.js';

/**
 * What the token can do, read from its mechanism list at start-up. Vendor
 * differences are decided from this profile, never from a vendor's name.
 */
export interface TokenCapabilities {
  readonly aesKeyGen: boolean;
  readonly aesGcm: boolean;
  readonly rsaKeyGen: boolean;
  /** CKM_RSA_PKCS_OAEP unwrap (with SHA-1, which every token that has it supports). */
  readonly rsaOaepUnwrap: boolean;
  /** CKM_AES_KEY_WRAP_PAD unwrap (RFC 5649), the second step of RSA_AES_KEY_WRAP. */
  readonly aesKeyWrapPadUnwrap: boolean;
  readonly mechanisms: ReadonlySet<number>;
  /**
   * Whether the token keeps CKA_ALLOWED_MECHANISMS on the objects it makes (tried
   * once on a session key at start-up). Where it does not, objects are locked to
   * their purpose by their usage attributes alone, and the start-up log says so.
   */
  readonly allowedMechanismsAttribute: boolean;
}

/** What only trying tells: found by the token once logged in. */
export type AttributeSupport = Pick<TokenCapabilities, 'allowedMechanismsAttribute'>;

export function detectCapabilities(lib: P11.PKCS11, slot: Buffer): Omit<TokenCapabilities, keyof AttributeSupport> {
  const mechanisms = new Set(lib.C_GetMechanismList(slot));
  const supports = (m: number, flag: number) => mechanisms.has(m) && (lib.C_GetMechanismInfo(slot, m).flags & flag) !== 0;
  return {
    aesKeyGen: supports(pkcs11js.CKM_AES_KEY_GEN, pkcs11js.CKF_GENERATE),
    aesGcm: supports(pkcs11js.CKM_AES_GCM, pkcs11js.CKF_ENCRYPT) && supports(pkcs11js.CKM_AES_GCM, pkcs11js.CKF_DECRYPT),
    rsaKeyGen: supports(pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN, pkcs11js.CKF_GENERATE_KEY_PAIR),
    rsaOaepUnwrap: supports(pkcs11js.CKM_RSA_PKCS_OAEP, pkcs11js.CKF_UNWRAP),
    aesKeyWrapPadUnwrap: supports(pkcs11js.CKM_AES_KEY_WRAP_PAD, pkcs11js.CKF_UNWRAP),
    mechanisms,
  };
}
