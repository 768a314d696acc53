import { z } from 'zod';
import { UnsupportedOperationException } from '../../domain/errors.js';
import { defineOperation } from '../operation.js';
import { blob, dryRun, grantTokens, keyIdParam } from '../schemas.js';

export const deriveSharedSecret = defineOperation({
  name: 'DeriveSharedSecret',
  // The shared secret is never in the trail; the peer's public key is not secret, but AWS does not log it either.
  audit: { kind: 'crypto', request: ['KeyId', 'KeyAgreementAlgorithm'], response: ['KeyAgreementAlgorithm', 'KeyOrigin'] },
  input: z.object({
    KeyId: keyIdParam,
    KeyAgreementAlgorithm: z.enum(['ECDH']),
    PublicKey: blob(1, 8192),
    GrantTokens: grantTokens,
    DryRun: dryRun,
    Recipient: z.unknown().optional(),
  }),
  async handle({ keyAgreement }, ctx, input) {
    if (input.Recipient !== undefined) throw new UnsupportedOperationException('Recipient (Nitro Enclaves attestation) is not supported.');
    const { key, sharedSecret } = await keyAgreement.deriveSharedSecret(ctx, {
      keyId: input.KeyId,
      keyAgreementAlgorithm: input.KeyAgreementAlgorithm,
      publicKey: input.PublicKey,
      dryRun: input.DryRun,
    });
    return { KeyId: key.arn, SharedSecret: sharedSecret, KeyAgreementAlgorithm: input.KeyAgreementAlgorithm, KeyOrigin: key.origin };
  },
});
