import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readTrailFiles } from '../audit/file-trail.js';
import { formatTable, queryTrail, type Outcome, type QueryFilter } from '../audit/query.js';
import { sha256Hex } from '../audit/trail-format.js';
import { verifyTrail, type TrailFile } from '../audit/verify.js';

export class AuditUsageError extends Error {}

export const AUDIT_USAGE = `  audit verify --public-key FILE [--trail DIR] [--sealed-through TIME|now] [--json]
                                      check a copy of the audit trail offline; exit 0 verified, 1 not
  audit query [--trail DIR] [--from TIME] [--to TIME] [--key ID|ARN|ALIAS] [--principal ARN|NAME|ACCESS_KEY_ID]
              [--operation NAME] [--outcome allowed|denied|error] [--request-id ID] [--json]
                                      events as a table, or JSON lines with --json
  audit public-key                    the PEM public key the trail's digests verify with (from the running service)`;

async function readTrail(dir: string): Promise<TrailFile[]> {
  const files = await readTrailFiles(dir).catch((e: NodeJS.ErrnoException) => {
    throw new AuditUsageError(`cannot read the audit trail folder ${dir}: ${e.code ?? e.message}`);
  });
  if (files.length === 0) throw new AuditUsageError(`no audit trail files (trail-*.jsonl) in ${dir}`);
  return files;
}

function time(flags: Map<string, string>, name: string): Date | undefined {
  const value = flags.get(name);
  if (value === undefined) return undefined;
  const at = value === 'now' ? new Date() : new Date(value);
  if (Number.isNaN(at.getTime())) throw new AuditUsageError(`--${name} must be an ISO 8601 time (or now), not ${value}`);
  return at;
}

/** `audit verify`: prints what it checked and every finding, the first one named first. */
export async function verifyCommand(trailDir: string, flags: Map<string, string>, out: (s: string) => void): Promise<number> {
  const keyFile = flags.get('public-key');
  if (!keyFile) throw new AuditUsageError('audit verify needs --public-key FILE (from: npm run admin -- audit public-key)');
  const publicKey = createPublicKey(await readFile(keyFile, 'utf8'));
  const fingerprint = sha256Hex(publicKey.export({ format: 'der', type: 'spki' }));
  const result = verifyTrail(await readTrail(trailDir), publicKey, fingerprint, { sealedThrough: time(flags, 'sealed-through') });
  if (flags.has('json')) {
    out(JSON.stringify({ trail: trailDir, fingerprint, ...result, verified: result.findings.length === 0 }, null, 2));
    return result.findings.length === 0 ? 0 : 1;
  }
  out(`Audit trail ${trailDir}: ${result.files} files, ${result.records} records (${result.events} events, ${result.digests} digests), last seq ${result.lastSeq ?? '-'}`);
  out(`Public key fingerprint ${fingerprint}`);
  out(result.sealedThrough ? `Sealed through ${result.sealedThrough.endTime} (digest seq ${result.sealedThrough.seq})` : 'No verified digest seals any part of the trail');
  for (const note of result.notes) out(`Note: ${note}`);
  if (!flags.has('sealed-through')) out('Note: without --sealed-through, a tail cut off at a record boundary cannot be told from a copy taken earlier');
  const [first] = result.findings;
  if (!first) {
    out('VERIFIED: every record chains to the one before it and every digest is signed by this key.');
    return 0;
  }
  const verdict = result.findings.some((f) => f.tampering) ? 'TAMPERED' : 'INCOMPLETE';
  out(`${verdict}: ${first.where}: ${first.message}`);
  for (const f of result.findings.slice(1)) out(`  also ${f.where}: ${f.message}`);
  return 1;
}

/** `audit query`: the matching events, oldest first. */
export async function queryCommand(trailDir: string, flags: Map<string, string>, out: (s: string) => void): Promise<number> {
  const outcome = flags.get('outcome');
  if (outcome !== undefined && !['allowed', 'denied', 'error'].includes(outcome)) throw new AuditUsageError('--outcome must be allowed, denied or error');
  const filter: QueryFilter = {
    from: time(flags, 'from'),
    to: time(flags, 'to'),
    key: flags.get('key'),
    principal: flags.get('principal'),
    operation: flags.get('operation'),
    outcome: outcome as Outcome | undefined,
    requestId: flags.get('request-id'),
  };
  const found = queryTrail(await readTrail(trailDir), filter);
  if (flags.has('json')) for (const f of found) out(JSON.stringify(f.event));
  else out(found.length > 0 ? formatTable(found) : 'No matching events.');
  return 0;
}
