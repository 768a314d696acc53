import type * as P11 from 'pkcs11js';
import { pkcs11js } from './pkcs11js.js';

/**
 * One loaded PKCS#11 library per path and process. A library can be initialised
 * only once per process, so every token opened on it shares this and the last
 * one to close finalises it.
 */
interface LoadedModule {
  readonly lib: P11.PKCS11;
  users: number;
}

const loaded = new Map<string, LoadedModule>();

export function acquireModule(modulePath: string): P11.PKCS11 {
  const existing = loaded.get(modulePath);
  if (existing) {
    existing.users++;
    return existing.lib;
  }
  const lib = new pkcs11js.PKCS11();
  lib.load(modulePath);
  try {
    // Without CKF_OS_LOCKING_OK, concurrent calls from libuv's thread pool crash SoftHSM.
    lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (e) {
    if (!(e instanceof pkcs11js.Pkcs11Error && e.code === pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED)) throw e;
  }
  loaded.set(modulePath, { lib, users: 1 });
  return lib;
}

export function releaseModule(modulePath: string): void {
  const entry = loaded.get(modulePath);
  if (!entry) return;
  if (--entry.users > 0) return;
  loaded.delete(modulePath);
  try {
    entry.lib.C_Finalize();
  } finally {
    entry.lib.close();
  }
}

/**
 * Finalises and initialises the loaded module again, after its device failed:
 * every session, handle and login of it is gone (other tokens opened on it find
 * their sessions invalid and replace them).
 */
export function reinitializeModule(modulePath: string): void {
  const entry = loaded.get(modulePath);
  if (!entry) throw new Error(`the PKCS#11 module ${modulePath} is not loaded`);
  try {
    entry.lib.C_Finalize();
  } catch {
    // Already finalised, or the device took the state with it: initialising is what matters.
  }
  try {
    entry.lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (e) {
    if (!(e instanceof pkcs11js.Pkcs11Error && e.code === pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED)) throw e;
  }
}
