import { z } from 'zod';
import { InvalidMarkerException } from '../../domain/errors.js';
import { keyMaterialId } from '../../domain/key.js';
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
  audit: { kind: 'read', request: ['KeyId', 'Limit', 'Marker'] },
  input: z.object({ KeyId: keyIdParam, Limit: z.number().int().min(1).max(1000).optional(), Marker: marker }),
  async handle({ rotation }, ctx, input) {
    const after = decodeMarker(input.Marker);
    const afterVersion = after === undefined ? 0 : Number(after);
    if (!Number.isInteger(afterVersion) || afterVersion < 0) throw new InvalidMarkerException('The marker is not valid.');
    const { key, page } = await rotation.listKeyRotations(ctx, input.KeyId, afterVersion, input.Limit ?? 100);
    return {
      Rotations: page.items.map((r) => ({
        KeyId: key.keyId,
        KeyMaterialId: keyMaterialId(r),
        RotationDate: epochSeconds(r.rotationDate),
        RotationType: r.rotationType,
      })),
      NextMarker: encodeMarker(page.next),
      Truncated: page.next !== undefined,
    };
  },
});
