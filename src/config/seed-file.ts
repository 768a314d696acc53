import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { GRANT_OPERATIONS } from '../domain/grant.js';
import { parsePrincipalArn } from '../domain/principal-arn.js';
import { ConfigError } from './config.js';

/**
 * The seed file (KMS_SEED_FILE): the principals, keys and grants a local setup
 * expects, declared in YAML or JSON, checked whole and then applied at start-up
 * (src/services/seeding/).
 */
const KEY_ID = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a key id: a lower-case UUID');
const ALIAS = z.string().regex(/^alias\/[a-zA-Z0-9/_-]{1,250}$/, 'must be alias/ and up to 250 letters, digits, /, _ or -').refine((a) => !a.startsWith('alias/aws/'), 'alias/aws/ is reserved for AWS');
const PRINCIPAL = z.string().refine((a) => parsePrincipalArn(a) !== undefined, 'must be a principal ARN (arn:aws:iam::ACCOUNT:root, user/NAME or role/NAME)');
const USER_OR_ROLE = PRINCIPAL.refine((a) => parsePrincipalArn(a)?.kind !== 'root', 'must be a user or role ARN (an account root is made with its account)');
/** A policy document, as an object or as the JSON string of one. */
const POLICY = z.union([z.string(), z.record(z.string(), z.unknown())]).transform((p) => (typeof p === 'string' ? p : JSON.stringify(p)));
const CONTEXT = z.record(z.string(), z.string());
/** AES-256 key material, base64: development only (see the service's checks). */
const MATERIAL = z
  .string()
  .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64')
  .refine((m) => Buffer.from(m, 'base64').length === 32, 'must be 32 bytes (AES-256 key material), base64');

const SeedAccessKey = z
  .object({
    id: z.string().regex(/^[A-Z0-9]{16,128}$/, 'must be 16 to 128 upper-case letters and digits (AKIA...)'),
    secret: z.string().regex(/^[A-Za-z0-9/+=]{16,128}$/, 'must be 16 to 128 letters, digits, /, + or ='),
  })
  .strict();

const SeedPrincipal = z
  .object({
    arn: USER_OR_ROLE,
    accessKeys: z.array(SeedAccessKey).default([]),
    /** Identity policies by name. */
    policies: z.record(z.string().regex(/^[\w+=,.@-]{1,128}$/, 'must be 1-128 letters, digits and +=,.@_-'), POLICY).default({}),
  })
  .strict();

const SeedGrant = z
  .object({
    /** What a later start recognises the grant by (CreateGrant's Name). */
    name: z.string().regex(/^[a-zA-Z0-9:/_-]{1,256}$/, 'must be 1-256 letters, digits, :, /, _ or -'),
    grantee: PRINCIPAL,
    retiringPrincipal: PRINCIPAL.optional(),
    operations: z.array(z.enum(GRANT_OPERATIONS)).min(1),
    constraints: z
      .object({ encryptionContextEquals: CONTEXT.optional(), encryptionContextSubset: CONTEXT.optional() })
      .strict()
      .refine((c) => !(c.encryptionContextEquals && c.encryptionContextSubset), 'only one of encryptionContextEquals and encryptionContextSubset')
      .optional(),
  })
  .strict();

const SeedKey = z
  .object({
    id: KEY_ID,
    description: z.string().max(8192).optional(),
    keySpec: z.string().optional(),
    keyUsage: z.string().optional(),
    aliases: z.array(ALIAS).optional(),
    tags: z.record(z.string().min(1).max(128), z.string().max(256)).optional(),
    policy: POLICY.optional(),
    rotation: z.object({ enabled: z.boolean(), periodDays: z.number().int().min(90).max(2560).optional() }).strict().optional(),
    /** Given key material (development only): imported through the token, so that ciphertexts travel between machines. */
    material: MATERIAL.optional(),
    grants: z.array(SeedGrant).default([]),
  })
  .strict()
  .superRefine((key, ctx) => {
    if (key.material === undefined) return;
    if ((key.keySpec ?? 'SYMMETRIC_DEFAULT') !== 'SYMMETRIC_DEFAULT') ctx.addIssue({ code: 'custom', path: ['material'], message: 'given material is imported into SYMMETRIC_DEFAULT keys only' });
    if (key.rotation?.enabled) ctx.addIssue({ code: 'custom', path: ['rotation'], message: 'a key with given material is not rotated automatically (as imported material in AWS)' });
  });

const SeedSchema = z
  .object({
    principals: z.array(SeedPrincipal).default([]),
    keys: z.array(SeedKey).default([]),
  })
  .strict()
  .superRefine((seed, ctx) => {
    const once = <T>(seen: Set<T>, value: T, path: Array<string | number>, message: string) => {
      if (seen.has(value)) ctx.addIssue({ code: 'custom', path, message });
      seen.add(value);
    };
    const arns = new Set<string>();
    const accessKeys = new Set<string>();
    seed.principals.forEach((p, i) => {
      once(arns, p.arn, ['principals', i, 'arn'], `${p.arn} is declared twice`);
      p.accessKeys.forEach((k, j) => once(accessKeys, k.id, ['principals', i, 'accessKeys', j, 'id'], `access key ${k.id} is declared twice`));
    });
    const ids = new Set<string>();
    const aliases = new Set<string>();
    seed.keys.forEach((k, i) => {
      once(ids, k.id, ['keys', i, 'id'], `key ${k.id} is declared twice`);
      (k.aliases ?? []).forEach((a, j) => once(aliases, a, ['keys', i, 'aliases', j], `${a} names two keys`));
      const names = new Set<string>();
      k.grants.forEach((g, j) => once(names, g.name, ['keys', i, 'grants', j, 'name'], `grant ${g.name} is declared twice on this key`));
    });
  });

export type Seed = z.infer<typeof SeedSchema>;
export type SeedKeySpec = z.infer<typeof SeedKey>;
export type SeedPrincipalSpec = z.infer<typeof SeedPrincipal>;
export type SeedGrantSpec = z.infer<typeof SeedGrant>;

/** A seed file that cannot be applied: the file, the line, and why (said in one line at start-up). */
export class SeedFileError extends ConfigError {}

/** A checked seed file, and where in it each of its parts is: the service's own checks name the line too. */
export interface SeedDocument {
  readonly file: string;
  readonly seed: Seed;
  /** A SeedFileError naming the file, the line of the part the path leads to, the path and the reason. */
  problem(path: ReadonlyArray<string | number>, reason: string): SeedFileError;
}

/** Reads and checks the whole file before anything is applied; SeedFileError names the line of the first problem. */
export async function readSeedFile(file: string): Promise<SeedDocument> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new SeedFileError(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseSeed(text, file);
}

export function parseSeed(text: string, file: string): SeedDocument {
  const lines = new LineCounter();
  // YAML 1.2 reads JSON too, with the same line numbers.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) throw new SeedFileError(`${file}:${syntax.linePos?.[0].line ?? 1}: ${syntax.message.split('\n')[0]}`);
  const problem = (path: ReadonlyArray<string | number>, reason: string) =>
    new SeedFileError(`${file}:${lineOf(doc, lines, path)}: ${path.length > 0 ? `${path.join('.')}: ` : ''}${reason}`);
  const parsed = SeedSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw problem(issue.path as Array<string | number>, issue.message);
  }
  return { file, seed: parsed.data, problem };
}

/** The line of the deepest node the path reaches in the file. */
function lineOf(doc: Document, lines: LineCounter, path: ReadonlyArray<string | number>): number {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) return lines.linePos(range[0]).line;
  }
  return 1;
}
