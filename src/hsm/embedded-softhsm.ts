import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Where SoftHSMv2's module is installed on the systems we know; the first that exists wins. */
export const SOFTHSM_MODULE_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
];

export const EMBEDDED_TOKEN_LABEL = 'hsm-kms';

const TEMPLATE = new URL('../../hsm/softhsm2.conf.template', import.meta.url);

export interface EmbeddedToken {
  readonly modulePath: string;
  readonly tokenLabel: string;
  /** From the data folder, unless the user PIN is kept elsewhere (configured): then undefined. */
  readonly userPin: string | undefined;
  readonly soPin: string;
  /** The SoftHSM configuration file; SoftHSM reads it from SOFTHSM2_CONF when it initialises. */
  readonly softhsmConf: string;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

export async function findSoftHsmModule(): Promise<string> {
  for (const candidate of SOFTHSM_MODULE_CANDIDATES) if (await exists(candidate)) return candidate;
  throw new Error(`SoftHSMv2 is not installed (looked for ${SOFTHSM_MODULE_CANDIDATES.join(', ')}); run scripts/setup.sh, or install the Debian package softhsm2`);
}

/** A PIN file's content, created with random content and mode 0600 on first use. */
async function pinFile(file: string): Promise<string> {
  if (await exists(file)) return (await readFile(file, 'utf8')).trim();
  const pin = randomBytes(24).toString('hex');
  await writeFile(file, pin, { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return pin;
}

/**
 * Prepares the embedded default under DATA_DIR/softhsm: its configuration, token
 * folder and PINs (the user PIN there only when it is not kept elsewhere). The
 * token itself is initialised by the token layer on first open.
 */
export async function prepareEmbeddedSoftHsm(dataDir: string, userPinElsewhere = false): Promise<EmbeddedToken> {
  const dir = path.join(dataDir, 'softhsm');
  const tokenDir = path.join(dir, 'tokens');
  await mkdir(tokenDir, { recursive: true, mode: 0o700 });
  const softhsmConf = path.join(dir, 'softhsm2.conf');
  if (!(await exists(softhsmConf))) {
    const template = await readFile(TEMPLATE, 'utf8');
    await writeFile(softhsmConf, template.replaceAll('{{TOKEN_DIR}}', tokenDir), { mode: 0o600 });
  }
  return {
    modulePath: await findSoftHsmModule(),
    tokenLabel: EMBEDDED_TOKEN_LABEL,
    soPin: await pinFile(path.join(dir, 'so.pin')),
    userPin: userPinElsewhere ? undefined : await pinFile(path.join(dir, 'user.pin')),
    softhsmConf,
  };
}
