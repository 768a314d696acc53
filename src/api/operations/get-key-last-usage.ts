import { z } from 'zod';
import { awsKeyId } from '../../domain/key.js';
import { defineOperation } from '../operation.js';
import { epochSeconds, keyIdParam } from '../schemas.js';

export const getKeyLastUsage = defineOperation({
  name: 'GetKeyLastUsage',
  audit: { kind: 'read', request: ['KeyId'] },
  input: z.object({ KeyId: keyIdParam }),
  async handle({ keyAdmin }, ctx, input) {
    const { key, lastUsage, trackingStart } = await keyAdmin.getKeyLastUsage(ctx, input.KeyId);
    return {
      KeyId: awsKeyId(key.keyId),
      KeyCreationDate: epochSeconds(key.creationDate),
      TrackingStartDate: epochSeconds(trackingStart),
      // An empty object when the key has not been used since tracking began, as AWS answers.
      KeyLastUsage: lastUsage
        ? { Operation: lastUsage.operation, Timestamp: epochSeconds(lastUsage.timestamp), CloudTrailEventId: lastUsage.eventId, KmsRequestId: lastUsage.requestId }
        : {},
    };
  },
});
