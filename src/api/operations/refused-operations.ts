import { z } from 'zod';
import { UnsupportedOperationException } from '../../domain/errors.js';
import { defineOperation, type Operation } from '../operation.js';

const CUSTOM_KEY_STORES = 'Custom key stores are not available: every KMS key of this service already lives in its own HSM (KMS_PKCS11_MODULE).';
const ML_KEM = 'ML-KEM key encapsulation is not available: no PKCS#11 token this service supports implements ML-KEM.';

/**
 * AWS KMS operations this service knows and does not serve. AWS's clients expect
 * UnsupportedOperationException for a known operation that is not available (not
 * UnknownOperationException, which means a target no KMS has); each says why.
 */
const REFUSED: ReadonlyArray<readonly [string, string]> = [
  ['ConnectCustomKeyStore', CUSTOM_KEY_STORES],
  ['CreateCustomKeyStore', CUSTOM_KEY_STORES],
  ['DeleteCustomKeyStore', CUSTOM_KEY_STORES],
  ['DescribeCustomKeyStores', CUSTOM_KEY_STORES],
  ['DisconnectCustomKeyStore', CUSTOM_KEY_STORES],
  ['UpdateCustomKeyStore', CUSTOM_KEY_STORES],
  ['Encapsulate', ML_KEM],
  ['Decapsulate', ML_KEM],
];

export const refusedOperations: Operation[] = REFUSED.map(([name, reason]) =>
  defineOperation({
    name,
    audit: { kind: 'read', request: [] },
    input: z.object({}).passthrough(),
    handle: () => Promise.reject(new UnsupportedOperationException(reason)),
  }),
);
