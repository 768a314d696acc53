import { DisabledException, KMSInvalidStateException } from './errors.js';
import { KeyState, type KmsKey } from './key.js';

/** Cryptographic operations need an Enabled key (AWS "Key states of AWS KMS keys"). */
export function assertUsableForCrypto(key: KmsKey): void {
  switch (key.keyState) {
    case KeyState.Enabled:
      return;
    case KeyState.Disabled:
      throw new DisabledException(`${key.arn} is disabled.`);
    case KeyState.PendingDeletion:
    case KeyState.PendingReplicaDeletion:
      throw pendingDeletion(key);
    case KeyState.PendingImport:
      throw new KMSInvalidStateException(`${key.arn} is pending import.`);
  }
}

/** EnableKey and DisableKey need key material: refused while it waits for deletion or import. */
export function assertHasKeyMaterial(key: KmsKey): void {
  assertNotPendingDeletion(key);
  if (key.keyState === KeyState.PendingImport) throw new KMSInvalidStateException(`${key.arn} is pending import.`);
}

/** Waiting for deletion: its own waiting period, or (a multi-Region primary key) its replicas'. */
export function isPendingDeletion(key: KmsKey): boolean {
  return key.keyState === KeyState.PendingDeletion || key.keyState === KeyState.PendingReplicaDeletion;
}

/** Administrative changes are refused while a key waits for deletion. */
export function assertNotPendingDeletion(key: KmsKey): void {
  if (isPendingDeletion(key)) throw pendingDeletion(key);
}

function pendingDeletion(key: KmsKey): KMSInvalidStateException {
  return new KMSInvalidStateException(`${key.arn} is ${key.keyState === KeyState.PendingReplicaDeletion ? 'pending replica deletion' : 'pending deletion'}.`);
}
