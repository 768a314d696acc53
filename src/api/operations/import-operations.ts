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

/** A key material id: 64 hex characters (AWS's fixed length). */
const materialId = z.string().regex(/^[0-9a-f]{64}$/, 'Member must be a key material id (64 hexadecimal characters)');

export const importKeyMaterial = defineOperation({
  name: 'ImportKeyMaterial',
  audit: { kind: 'change', request: ['KeyId', 'ValidTo', 'ExpirationModel', 'ImportType', 'KeyMaterialId', 'KeyMaterialDescription'], response: ['KeyId', 'KeyMaterialId'] },
  input: z.object({
    KeyId: keyIdParam,
    ImportToken: blob(1, 6144),
    EncryptedKeyMaterial: blob(1, 6144),
    ValidTo: z.number().optional(),
    ExpirationModel: z.enum(['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE']).optional(),
    ImportType: z.enum(['NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL']).optional(),
    KeyMaterialId: materialId.optional(),
    KeyMaterialDescription: z.string().max(256).regex(/^[a-zA-Z0-9:/_\s.-]*$/, 'Member must match ^[a-zA-Z0-9:/_\\s.-]+$').optional(),
  }),
  async handle({ imports }, ctx, input) {
    const { key, version } = await imports.importKeyMaterial(ctx, {
      keyId: input.KeyId,
      importToken: input.ImportToken,
      encryptedKeyMaterial: input.EncryptedKeyMaterial,
      expirationModel: input.ExpirationModel,
      validTo: input.ValidTo === undefined ? undefined : new Date(input.ValidTo * 1000),
      importType: input.ImportType,
      keyMaterialId: input.KeyMaterialId,
      keyMaterialDescription: input.KeyMaterialDescription,
    });
    return { KeyId: key.arn, KeyMaterialId: keyMaterialId({ keyId: key.keyId, version }) };
  },
});

export const deleteImportedKeyMaterial = defineOperation({
  name: 'DeleteImportedKeyMaterial',
  audit: { kind: 'change', request: ['KeyId', 'KeyMaterialId'], response: ['KeyId', 'KeyMaterialId'] },
  input: z.object({ KeyId: keyIdParam, KeyMaterialId: materialId.optional() }),
  async handle({ imports }, ctx, input) {
    const { key, version } = await imports.deleteImportedKeyMaterial(ctx, input.KeyId, input.KeyMaterialId);
    return { KeyId: key.arn, KeyMaterialId: keyMaterialId({ keyId: key.keyId, version }) };
  },
});
