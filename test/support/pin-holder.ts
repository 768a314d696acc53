import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type * as P11 from 'pkcs11js';
import { findSoftHsmModule } from '../../src/hsm/embedded-softhsm.js';
import { pkcs11js } from '../../src/hsm/pkcs11js.js';

/**
 * The embedded token opened through PKCS#11 by someone holding its user PIN,
 * as an attacker with the data folder's PIN would: the service must have stopped
 * first (its module finalised), and close() must run before it starts again.
 */
export interface PinHolder {
  readonly lib: P11.PKCS11;
  readonly session: Buffer;
  /** Every object carrying the attribute value (all objects when no template is given). */
  find(template?: P11.Template): Buffer[];
  close(): void;
}

export async function openAsPinHolder(dataDir: string): Promise<PinHolder> {
  const pin = (await readFile(path.join(dataDir, 'softhsm', 'user.pin'), 'utf8')).trim();
  // SoftHSM reads its configuration when the module is initialised: this data folder's token.
  process.env.SOFTHSM2_CONF = path.join(dataDir, 'softhsm', 'softhsm2.conf');
  const lib = new pkcs11js.PKCS11();
  lib.load(await findSoftHsmModule());
  lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.replace(/[\0 ]+$/, '') === 'hsm-kms');
  if (!slot) throw new Error('the service token is not there');
  const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  lib.C_Login(session, pkcs11js.CKU_USER, pin);
  return {
    lib,
    session,
    find(template = []) {
      lib.C_FindObjectsInit(session, template);
      try {
        return lib.C_FindObjects(session, 1000);
      } finally {
        lib.C_FindObjectsFinal(session);
      }
    },
    close() {
      try {
        lib.C_Logout(session);
        lib.C_CloseSession(session);
      } finally {
        lib.C_Finalize();
        lib.close();
      }
    },
  };
}
