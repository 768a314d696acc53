import { z } from 'zod';
import { keyMaterialId } from '../../domain/key.js';
import { defineOperation } from '../operation.js';
import { blob, epochSeconds, keyIdParam } from '../schemas.js';

export const getParametersForImport = defineOperation({
  name: 'GetParametersForImport',
  audit: { kind: 'change', readOnly: true, request: ['KeyId', 'WrappingAlgorithm', 'WrappingKeySpec'] },
  input: z.object({
    KeyId: keyIdParam,
    WrappingAlgorithm: z.enum(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256']),
    WrappingKeySpec: z.enum(['RSA_2048', 'RSA_3072', 'RSA_4096']),
  }),
  async handle({ imports }, ctx, input) {
    const p = await imports.getParametersForImport(ctx, input.KeyId, input.WrappingAlgorithm, input.WrappingKeySpec);
    return { KeyId: p.key.arn, ImportToken: p.importToken, PublicKey: p.publicKey, ParametersValidTo: epochSeconds(p.parametersValidTo) };
  },
});

export const importKeyMaterial = defineOperation({
  name: 'ImportKeyMaterial',
  audit: { kind: 'change', request: ['KeyId', 'ValidTo', 'ExpirationModel'] },
  input: z.object({
    KeyId: keyIdParam,
    ImportToken: blob(1, 6144),
    EncryptedKeyMaterial: blob(1, 6144),
    ValidTo: z.number().optional(),
    ExpirationModel: z.enum(['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE']).optional(),
  }),
  async handle({ imports }, ctx, input) {
    const key = await imports.importKeyMaterial(ctx, {
      keyId: input.KeyId,
      importToken: input.ImportToken,
      encryptedKeyMaterial: input.EncryptedKeyMaterial,
      expirationModel: input.ExpirationModel,
      validTo: input.ValidTo === undefined ? undefined : new Date(input.ValidTo * 1000),
    });
    return { KeyId: key.arn, KeyMaterialId: keyMaterialId({ keyId: key.keyId, version: key.currentVersion }) };
  },
});

export const deleteImportedKeyMaterial = defineOperation({
  name: 'DeleteImportedKeyMaterial',
  audit: { kind: 'change', request: ['KeyId'], response: ['KeyId', 'KeyMaterialId'] },
  input: z.object({ KeyId: keyIdParam }),
  async handle({ imports }, ctx, input) {
    const key = await imports.deleteImportedKeyMaterial(ctx, input.KeyId);
    return { KeyId: key.arn, KeyMaterialId: keyMaterialId({ keyId: key.keyId, version: key.currentVersion }) };
  },
});
