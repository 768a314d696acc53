import { z } from 'zod';
import { InvalidMarkerException } from '../../domain/errors.js';
import { awsKeyId, keyMaterialId } from '../../domain/key.js';
import { defineOperation } from '../operation.js';
import { decodeMarker, encodeMarker, epochSeconds, keyIdParam, marker } from '../schemas.js';

export const enableKeyRotation = defineOperation({
  name: 'EnableKeyRotation',
  audit: { kind: 'change', request: ['KeyId', 'RotationPeriodInDays'] },
  input: z.object({ KeyId: keyIdParam, RotationPeriodInDays: z.number().int().min(90).max(2560).optional() }),
  async handle({ rotation }, ctx, input) {
    await rotation.enableKeyRotation(ctx, input.KeyId, input.RotationPeriodInDays);
    return {};
  },
});

export const disableKeyRotation = defineOperation({
  name: 'DisableKeyRotation',
  audit: { kind: 'change', request: ['KeyId'] },
  input: z.object({ KeyId: keyIdParam }),
  async handle({ rotation }, ctx, input) {
    await rotation.disableKeyRotation(ctx, input.KeyId);
    return {};
  },
});

export const getKeyRotationStatus = defineOperation({
  name: 'GetKeyRotationStatus',
  audit: { kind: 'read', request: ['KeyId'] },
  input: z.object({ KeyId: keyIdParam }),
  async handle({ rotation }, ctx, input) {
    const { key, status } = await rotation.getKeyRotationStatus(ctx, input.KeyId);
    return {
      KeyRotationEnabled: status.enabled,
      KeyId: key.arn,
      RotationPeriodInDays: status.enabled ? status.periodDays : undefined,
      NextRotationDate: status.nextRotationDate && epochSeconds(status.nextRotationDate),
      OnDemandRotationStartDate: status.onDemandStartedAt && epochSeconds(status.onDemandStartedAt),
    };
  },
});

export const rotateKeyOnDemand = defineOperation({
  name: 'RotateKeyOnDemand',
  audit: { kind: 'change', request: ['KeyId'], response: ['KeyId'] },
  input: z.object({ KeyId: keyIdParam }),
  async handle({ rotation }, ctx, input) {
    const key = await rotation.rotateKeyOnDemand(ctx, input.KeyId);
    return { KeyId: key.arn };
  },
});

export const listKeyRotations = defineOperation({
  name: 'ListKeyRotations',
  audit: { kind: 'read', request: ['KeyId', 'Limit', 'Marker', 'IncludeKeyMaterial'] },
  input: z.object({ KeyId: keyIdParam, Limit: z.number().int().min(1).max(1000).optional(), Marker: marker, IncludeKeyMaterial: z.enum(['ALL_KEY_MATERIAL', 'ROTATIONS_ONLY']).optional() }),
  async handle({ rotation }, ctx, input) {
    const after = decodeMarker(input.Marker);
    const afterVersion = after === undefined ? 0 : Number(after);
    if (!Number.isInteger(afterVersion) || afterVersion < 0) throw new InvalidMarkerException('The marker is not valid.');
    const { key, page } = await rotation.listKeyRotations(ctx, input.KeyId, afterVersion, input.Limit ?? 100, input.IncludeKeyMaterial === 'ALL_KEY_MATERIAL');
    return {
      Rotations: page.items.map((e) => ({
        KeyId: awsKeyId(key.keyId),
        KeyMaterialId: keyMaterialId({ keyId: key.keyId, version: e.version }),
        KeyMaterialState: e.state,
        ...(e.rotation ? { RotationDate: epochSeconds(e.rotation.rotationDate), RotationType: e.rotation.rotationType } : {}),
        // Imported keys' materials: what was imported and whether it is in the token now.
        ...(e.imported
          ? {
              KeyMaterialDescription: e.imported.description,
              ImportState: e.imported.imported ? 'IMPORTED' : 'PENDING_IMPORT',
              ExpirationModel: e.imported.expirationModel,
              ValidTo: e.imported.validTo ? epochSeconds(e.imported.validTo) : undefined,
            }
          : {}),
      })),
      NextMarker: encodeMarker(page.next),
      Truncated: page.next !== undefined,
    };
  },
});
