import { z } from 'zod';
import { defineOperation } from '../operation.js';
import { epochSeconds, keyIdParam } from '../schemas.js';

// The small state-changing operations, one definition each: they share one shape.

export const enableKey = defineOperation({
  name: 'EnableKey',
  audit: { kind: 'change', request: ['KeyId'] },
  input: z.object({ KeyId: keyIdParam }),
  async handle({ keyAdmin }, ctx, input) {
    await keyAdmin.enableKey(ctx, input.KeyId);
    return {};
  },
});

export const disableKey = defineOperation({
  name: 'DisableKey',
  audit: { kind: 'change', request: ['KeyId'] },
  input: z.object({ KeyId: keyIdParam }),
  async handle({ keyAdmin }, ctx, input) {
    await keyAdmin.disableKey(ctx, input.KeyId);
    return {};
  },
});

export const updateKeyDescription = defineOperation({
  name: 'UpdateKeyDescription',
  audit: { kind: 'change', request: ['KeyId', 'Description'] },
  input: z.object({ KeyId: keyIdParam, Description: z.string().max(8192) }),
  async handle({ keyAdmin }, ctx, input) {
    await keyAdmin.updateKeyDescription(ctx, input.KeyId, input.Description);
    return {};
  },
});

export const scheduleKeyDeletion = defineOperation({
  name: 'ScheduleKeyDeletion',
  audit: { kind: 'change', request: ['KeyId', 'PendingWindowInDays'], response: ['KeyId', 'KeyState', 'DeletionDate', 'PendingWindowInDays'] },
  input: z.object({ KeyId: keyIdParam, PendingWindowInDays: z.number().int().min(7).max(30).optional() }),
  async handle({ keyAdmin }, ctx, input) {
    const key = await keyAdmin.scheduleKeyDeletion(ctx, input.KeyId, input.PendingWindowInDays ?? 30);
    return {
      KeyId: key.arn,
      DeletionDate: key.deletionDate && epochSeconds(key.deletionDate),
      KeyState: key.keyState,
      PendingWindowInDays: key.pendingDeletionWindowInDays,
    };
  },
});

export const cancelKeyDeletion = defineOperation({
  name: 'CancelKeyDeletion',
  audit: { kind: 'change', request: ['KeyId'], response: ['KeyId'] },
  input: z.object({ KeyId: keyIdParam }),
  async handle({ keyAdmin }, ctx, input) {
    const key = await keyAdmin.cancelKeyDeletion(ctx, input.KeyId);
    return { KeyId: key.arn };
  },
});
