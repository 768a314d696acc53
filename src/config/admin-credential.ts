import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateAccessKeyId, generateSecretAccessKey } from '../domain/access-key.js';
import type { Config } from './config.js';

export interface AdminCredential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Set when the credential was generated or read from the data folder rather than configured. */
  readonly credentialsFile?: string;
}

export const CREDENTIALS_PROFILE = 'hsm-kms';

function readProfile(text: string): { accessKeyId?: string; secretAccessKey?: string } {
  const out: { accessKeyId?: string; secretAccessKey?: string } = {};
  let inProfile = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) inProfile = line === `[${CREDENTIALS_PROFILE}]`;
    const m = /^(\w+)\s*=\s*(\S+)$/.exec(line);
    if (!inProfile || !m) continue;
    if (m[1] === 'aws_access_key_id') out.accessKeyId = m[2];
    if (m[1] === 'aws_secret_access_key') out.secretAccessKey = m[2];
  }
  return out;
}

/**
 * The bootstrap administrator: from configuration when given, otherwise generated
 * once into an AWS-CLI-style credentials file (mode 0600) in the data folder.
 */
export async function resolveAdminCredential(config: Config): Promise<AdminCredential> {
  if (config.admin) return config.admin;
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const credentialsFile = path.join(config.dataDir, 'credentials');
  try {
    const found = readProfile(await readFile(credentialsFile, 'utf8'));
    if (found.accessKeyId && found.secretAccessKey) return { accessKeyId: found.accessKeyId, secretAccessKey: found.secretAccessKey, credentialsFile };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const accessKeyId = generateAccessKeyId();
  const secretAccessKey = generateSecretAccessKey();
  const text = `[${CREDENTIALS_PROFILE}]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n`;
  await writeFile(credentialsFile, text, { mode: 0o600 });
  return { accessKeyId, secretAccessKey, credentialsFile };
}
