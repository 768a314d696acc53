import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './config.js';

/**
 * The seed file (KMS_SEED_FILE): the keys a local setup expects, declared in
 * YAML or JSON, applied at start-up (src/services/keys/key-seeding.ts).
 */
const KEY_ID = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a key id: a lower-case UUID');
const ALIAS = z.string().regex(/^alias\/[a-zA-Z0-9/_-]{1,250}$/, 'must be alias/ and up to 250 letters, digits, /, _ or -').refine((a) => !a.startsWith('alias/aws/'), 'alias/aws/ is reserved for AWS');

const SeedKey = z
  .object({
    id: KEY_ID,
    description: z.string().max(8192).optional(),
    keySpec: z.string().optional(),
    keyUsage: z.string().optional(),
    aliases: z.array(ALIAS).optional(),
    tags: z.record(z.string().min(1).max(128), z.string().max(256)).optional(),
    /** A key policy: a JSON document, as an object or a string. */
    policy: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
    rotation: z.object({ enabled: z.boolean(), periodDays: z.number().int().min(90).max(2560).optional() }).strict().optional(),
  })
  .strict();

const SeedSchema = z
  .object({
    keys: z.array(SeedKey).default([]),
  })
  .strict()
  .superRefine((seed, ctx) => {
    const ids = new Set<string>();
    const aliases = new Set<string>();
    seed.keys.forEach((k, i) => {
      if (ids.has(k.id)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'id'], message: `key ${k.id} is declared twice` });
      ids.add(k.id);
      (k.aliases ?? []).forEach((a, j) => {
        if (aliases.has(a)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'aliases', j], message: `${a} names two keys` });
        aliases.add(a);
      });
    });
  });

export type Seed = z.infer<typeof SeedSchema>;
export type SeedKeySpec = z.infer<typeof SeedKey>;

/** A seed file that cannot be applied: the file, the line, and why (said in one line at start-up). */
export class SeedFileError extends ConfigError {}

/** Reads and checks the whole file before anything is applied; SeedFileError names the line of the first problem. */
export async function readSeedFile(file: string): Promise<Seed> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new SeedFileError(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseSeed(text, file);
}

export function parseSeed(text: string, file: string): Seed {
  const lines = new LineCounter();
  // YAML 1.2 reads JSON too, with the same line numbers.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) throw new SeedFileError(`${file}:${syntax.linePos?.[0].line ?? 1}: ${syntax.message.split('\n')[0]}`);
  const parsed = SeedSchema.safeParse(doc.toJS() ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new SeedFileError(`${file}:${lineOf(doc, lines, issue.path as Array<string | number>)}: ${where}${issue.message}`);
}

/** The line of the deepest node the path reaches in the file. */
function lineOf(doc: Document, lines: LineCounter, path: Array<string | number>): number {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) return lines.linePos(range[0]).line;
  }
  return 1;
}
