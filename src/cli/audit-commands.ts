import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { listTrailChains, readTrailFiles } from '../audit/file-trail.js';
import { formatTable, queryTrails, type Outcome, type QueryFilter } from '../audit/query.js';
import { sha256Hex } from '../audit/trail-format.js';
import { verifyTrail, type TrailFile, type Verification } from '../audit/verify.js';

export class AuditUsageError extends Error {}

export const AUDIT_USAGE = `  audit verify --public-key FILE [--trail DIR] [--sealed-through TIME|now] [--json]
                                      check a copy of the audit trail offline; exit 0 verified, 1 not
  audit query [--trail DIR] [--from TIME] [--to TIME] [--key ID|ARN|ALIAS] [--principal ARN|NAME|ACCESS_KEY_ID]
              [--operation NAME] [--outcome allowed|denied|error] [--request-id ID] [--json]
                                      events as a table, or JSON lines with --json
  audit public-key                    the PEM public key the trail's digests verify with (from the running service)`;

interface Chain {
  readonly dir: string;
  readonly files: TrailFile[];
}

/** Every chain of the trail's folder (one per worker when the service ran several), with its files. */
async function readChains(dir: string): Promise<Chain[]> {
  const chains = await listTrailChains(dir).then(
    (dirs) => Promise.all(dirs.map(async (chain) => ({ dir: chain, files: await readTrailFiles(chain) }))),
    (e: NodeJS.ErrnoException) => {
      throw new AuditUsageError(`cannot read the audit trail folder ${dir}: ${e.code ?? e.message}`);
    },
  );
  if (chains.length === 0) throw new AuditUsageError(`no audit trail files (trail-*.jsonl) in ${dir} or its worker-N folders`);
  return chains;
}

function time(flags: Map<string, string>, name: string): Date | undefined {
  const value = flags.get(name);
  if (value === undefined) return undefined;
  const at = value === 'now' ? new Date() : new Date(value);
  if (Number.isNaN(at.getTime())) throw new AuditUsageError(`--${name} must be an ISO 8601 time (or now), not ${value}`);
  return at;
}

/**
 * `audit verify`: every chain of the trail (one per worker when the service ran
 * several) is checked on its own; the trail is verified when every chain is.
 * Prints what it checked and every finding, the first one named first.
 */
export async function verifyCommand(trailDir: string, flags: Map<string, string>, out: (s: string) => void): Promise<number> {
  const keyFile = flags.get('public-key');
  if (!keyFile) throw new AuditUsageError('audit verify needs --public-key FILE (from: npm run admin -- audit public-key)');
  const publicKey = createPublicKey(await readFile(keyFile, 'utf8'));
  const fingerprint = sha256Hex(publicKey.export({ format: 'der', type: 'spki' }));
  const sealedThrough = time(flags, 'sealed-through');
  const chains = (await readChains(trailDir)).map(({ dir, files }) => ({ dir, result: verifyTrail(files, publicKey, fingerprint, { sealedThrough }) }));
  const verified = chains.every((c) => c.result.findings.length === 0);
  if (flags.has('json')) {
    const reports = chains.map(({ dir, result }) => ({ trail: dir, fingerprint, ...result, verified: result.findings.length === 0 }));
    out(JSON.stringify(reports.length === 1 ? reports[0] : { trail: trailDir, fingerprint, chains: reports, verified }, null, 2));
    return verified ? 0 : 1;
  }
  for (const [i, { dir, result }] of chains.entries()) {
    if (i > 0) out('');
    reportChain(dir, fingerprint, result, flags.has('sealed-through'), out);
  }
  if (chains.length > 1) out(`\n${verified ? 'VERIFIED' : 'NOT VERIFIED'}: ${chains.filter((c) => c.result.findings.length === 0).length} of ${chains.length} chains verified.`);
  return verified ? 0 : 1;
}

function reportChain(dir: string, fingerprint: string, result: Verification, sealedThroughGiven: boolean, out: (s: string) => void): void {
  out(`Audit trail ${dir}: ${result.files} files, ${result.records} records (${result.events} events, ${result.digests} digests), last seq ${result.lastSeq ?? '-'}`);
  out(`Public key fingerprint ${fingerprint}`);
  out(result.sealedThrough ? `Sealed through ${result.sealedThrough.endTime} (digest seq ${result.sealedThrough.seq})` : 'No verified digest seals any part of the trail');
  for (const note of result.notes) out(`Note: ${note}`);
  if (!sealedThroughGiven) out('Note: without --sealed-through, a tail cut off at a record boundary cannot be told from a copy taken earlier');
  const [first] = result.findings;
  if (!first) {
    out('VERIFIED: every record chains to the one before it and every digest is signed by this key.');
    return;
  }
  const verdict = result.findings.some((f) => f.tampering) ? 'TAMPERED' : 'INCOMPLETE';
  out(`${verdict}: ${first.where}: ${first.message}`);
  for (const f of result.findings.slice(1)) out(`  also ${f.where}: ${f.message}`);
}

/** `audit query`: the matching events of every chain, oldest first. */
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
  const found = queryTrails((await readChains(trailDir)).map((c) => c.files), filter);
  if (flags.has('json')) for (const f of found) out(JSON.stringify(f.event));
  else out(found.length > 0 ? formatTable(found) : 'No matching events.');
  return 0;
}
