import { createHash } from 'node:crypto';
import type { DigestSigner } from '../../audit/ports.js';
import { sha256Hex } from '../../audit/trail-format.js';
import { rawToDer } from '../../domain/ecdsa-signature.js';
import type { KeyMaterialRef } from '../../domain/key.js';
import { ECC_SPECS, signingScheme } from '../../domain/key-spec.js';
import { UNSERIALIZED, type KeyVault, type Serialized } from '../ports/index.js';

/**
 * The token key pair that signs the audit trail's digests (ECDSA P-256). Like the
 * credential-sealing key, its id is outside what CreateKey hands out and no key
 * row names it, so no API call can use it: it signs digests and nothing else.
 */
export const AUDIT_SIGNING_KEY: KeyMaterialRef = { keyId: '00000000-0000-0000-0000-000000000001', version: 1 };
const SCHEME = signingScheme('ECC_NIST_P256', 'ECDSA_SHA_256')!;

/**
 * Creates the audit signing key at first start (private half sensitive, never
 * extractable, sign-only) and signs with it. Instances starting together on one
 * database make it once: the check and the creation run serialized.
 */
export async function openAuditSigner(vault: KeyVault, serialized: Serialized = UNSERIALIZED): Promise<DigestSigner> {
  await serialized('once/audit-signing-key', async () => {
    if (!(await vault.hasKey(AUDIT_SIGNING_KEY))) {
      await vault.createSigningKeyPair(AUDIT_SIGNING_KEY, { kind: 'EC', ecParams: Buffer.from(ECC_SPECS.ECC_NIST_P256.ecParams, 'hex') });
    }
  });
  const publicKey = await vault.publicKeyInfo(AUDIT_SIGNING_KEY);
  return {
    publicKey,
    fingerprint: sha256Hex(publicKey),
    async sign(payload) {
      const digest = createHash('sha256').update(payload).digest();
      return rawToDer(await vault.signDigest(AUDIT_SIGNING_KEY, SCHEME, digest));
    },
  };
}
