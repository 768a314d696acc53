import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as P11 from 'pkcs11js';
import { prepareEmbeddedSoftHsm } from '../../src/hsm/embedded-softhsm.js';
import { acquireModule, releaseModule } from '../../src/hsm/pkcs11-module.js';

/**
 * The process's one loaded PKCS#11 module, initialised on a fresh data folder's
 * embedded token before a test service opens it: the test double of fault
 * injection replaces its functions (the service's token calls go through them),
 * in front of the real SoftHSM.
 */
export async function moduleForFaults(): Promise<{ readonly dataDir: string; readonly lib: P11.PKCS11; release(): void }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-faults-'));
  const { modulePath, softhsmConf } = await prepareEmbeddedSoftHsm(dataDir);
  process.env.SOFTHSM2_CONF = softhsmConf;
  return { dataDir, lib: acquireModule(modulePath), release: () => releaseModule(modulePath) };
}
