import { defineOperation } from '../operation.js';
import { dataKeyLength, dataKeyRequest } from './generate-data-key.js';

export const generateDataKeyWithoutPlaintext = defineOperation({
  name: 'GenerateDataKeyWithoutPlaintext',
  audit: { kind: 'crypto', request: ['KeyId', 'KeySpec', 'NumberOfBytes', 'EncryptionContext'] },
  input: dataKeyRequest.omit({ Recipient: true }),
  async handle({ crypto }, ctx, input) {
    const { key, ciphertextBlob, keyMaterialId } = await crypto.generateDataKeyWithoutPlaintext(ctx, {
      keyId: input.KeyId,
      numberOfBytes: dataKeyLength(input),
      encryptionContext: input.EncryptionContext,
      dryRun: input.DryRun,
    });
    return { CiphertextBlob: ciphertextBlob, KeyId: key.arn, KeyMaterialId: keyMaterialId };
  },
});
