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
      throw new KMSInvalidStateException(`${key.arn} is pending deletion.`);
    case KeyState.PendingImport:
      throw new KMSInvalidStateException(`${key.arn} is pending import.`);
  }
}

/** EnableKey and DisableKey need key material: refused while it waits for deletion or import. */
export function assertHasKeyMaterial(key: KmsKey): void {
  assertNotPendingDeletion(key);
  if (key.keyState === KeyState.PendingImport) throw new KMSInvalidStateException(`${key.arn} is pending import.`);
}

/** Administrative changes are refused while a key waits for deletion. */
export function assertNotPendingDeletion(key: KmsKey): void {
  if (key.keyState === KeyState.PendingDeletion) {
    throw new KMSInvalidStateException(`${key.arn} is pending deletion.`);
  }
}
