import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { defaultRequestQuotas } from '../domain/quotas.js';

const accountId = z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id');
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
/** true/false from a JSON file, or "true"/"false" from the environment. */
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/** A JSON value, or the text itself when it is not JSON (the schema then says what is wrong). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The whole configuration of one service instance. Parsed once at start-up from
 * environment variables (plus an optional JSON file) and passed down explicitly.
 */
export const ConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(8080),
    /** /healthz, /readyz and /metrics on a port of their own (plain HTTP) instead of the service's. */
    operatorPort: port.optional(),
    /** Processes serving requests on the one port (node:cluster); 1 runs the service as a single process. */
    workers: positiveInt.max(64).default(() => availableParallelism()),
    dataDir: z.string().min(1).default('./.kms'),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must look like an AWS region, e.g. us-east-1').default('us-east-1'),
    /**
     * Further regions this deployment answers for (KMS_REGIONS, comma-separated),
     * each with its own keys, aliases and grants, as AWS keeps regions apart; KMS_REGION is the default one.
     */
    otherRegions: z
      .union([z.array(z.string()), z.string().transform((v) => v.split(',').map((r) => r.trim()).filter((r) => r.length > 0))])
      .pipe(z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'each must look like an AWS region, e.g. eu-west-1')))
      .default([]),
    accountId: accountId.default('111122223333'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** production refuses to start on the embedded SoftHSM token, which is for development and tests. */
    profile: z.enum(['development', 'production']).default('development'),
    admin: z
      .object({
        accessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/, 'must be 16-128 upper-case letters or digits'),
        secretAccessKey: z.string().min(16).max(128),
      })
      .optional(),
    pkcs11: z
      .object({
        module: z.string().min(1).optional(),
        tokenLabel: z.string().min(1).max(32).optional(),
        pin: z.string().min(1).optional(),
        pinFile: z.string().min(1).optional(),
        sessions: positiveInt.max(256).default(8),
        /** How long a request waits for a free session before DependencyTimeoutException. */
        sessionWaitMs: z.coerce.number().int().min(1).max(60_000).default(2_000),
        /** Requests waiting for a session at most; the next one is answered DependencyTimeoutException at once. */
        maxWaiting: z.coerce.number().int().min(0).max(100_000).default(1_024),
        /** How long an asynchronous token call may take before it is given up and the token initialised again. */
        callTimeoutMs: z.coerce.number().int().min(100).max(300_000).default(10_000),
        /** Small symmetric operations as synchronous calls (a token in process memory); default: on for the embedded SoftHSM only. */
        synchronousSmallOperations: flag.optional(),
      })
      .prefault({}),
    /** SQLite file path; a postgres:// URL comes with the PostgreSQL store. */
    database: z.string().min(1).optional(),
    /** How long another instance's metadata changes may take to be seen (AWS KMS is eventually consistent too). */
    metadataCacheTtlMs: z.coerce.number().int().min(0).max(300_000).default(5_000),
    /** How often background jobs (automatic rotation, destroying keys past their deletion window) run; 0 turns the timer off. */
    schedulerIntervalMs: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
    audit: z
      .object({
        /** off only to measure what auditing costs: nothing is recorded, and the start-up log says so. */
        mode: z.enum(['on', 'off']).default('on'),
        /** The trail's folder (default <dataDir>/audit). */
        dir: z.string().min(1).optional(),
        /** How often a signed digest seals the trail (also at rotation and shutdown). */
        digestIntervalMs: z.coerce.number().int().min(100).max(86_400_000).default(3_600_000),
        maxFileBytes: z.coerce.number().int().min(4096).default(64 * 1024 * 1024),
        maxFileAgeMs: z.coerce.number().int().min(1000).default(86_400_000),
      })
      .default({ mode: 'on', digestIntervalMs: 3_600_000, maxFileBytes: 64 * 1024 * 1024, maxFileAgeMs: 86_400_000 }),
    /** How often the last use of each key is written to the database (GetKeyLastUsage). */
    keyUsageFlushMs: z.coerce.number().int().min(0).max(3_600_000).default(1_000),
    /** HTTPS from a PEM certificate (chain) and key; both or neither. */
    tls: z.object({ certFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional() }).default({}),
    /** Listening beyond loopback without TLS sends secrets in clear: it takes this explicit setting. */
    allowPlaintextHttp: flag.default(false),
    /**
     * The habits of a local AWS endpoint, for development only: any access key is
     * accepted (as the account root, signatures unchecked) and the admin API's
     * DeleteKeyNow finishes a pending deletion at once.
     */
    devConveniences: flag.default(false),
    /** A YAML or JSON file of keys to have at start-up (see src/config/seed-file.ts). */
    seedFile: z.string().min(1).optional(),
    /** Recovery after restoring the database from an older copy: move its IV sequence past the token's high-water mark. */
    ivAdvanceToToken: flag.default(false),
    /** AWS's resource quota of KMS keys per account (and Region). */
    maxKeysPerAccount: z.coerce.number().int().positive().default(100_000),
    /** Request quotas: AWS's defaults, `off`, or overrides by quota name (requests per second). */
    quotas: z
      .preprocess((v) => (typeof v === 'string' && v.trim().startsWith('{') ? parseJson(v) : v), z.union([z.literal('off'), z.record(z.string(), z.coerce.number().positive())]))
      .default({}),
  })
  .superRefine((c, ctx) => {
    const p = c.pkcs11;
    // A PIN alone is the embedded token's PIN, kept outside the data folder; a module or label names another token.
    const external = p.module !== undefined || p.tokenLabel !== undefined;
    if (external && (p.module === undefined || p.tokenLabel === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['pkcs11'], message: 'KMS_PKCS11_MODULE and KMS_PKCS11_TOKEN_LABEL go together; set both, or neither for the embedded SoftHSM token' });
    }
    if (!external && c.profile === 'production') {
      ctx.addIssue({
        code: 'custom',
        path: ['profile'],
        message:
          'KMS_PROFILE=production refuses the embedded SoftHSM token: it is for development and tests (its files sit in the data folder, where a copy of the folder takes the keys along); set KMS_PKCS11_MODULE and KMS_PKCS11_TOKEN_LABEL to an HSM',
      });
    }
    if (external && p.pin === undefined && p.pinFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['pkcs11'], message: 'an external token needs KMS_PKCS11_PIN or KMS_PKCS11_PIN_FILE' });
    }
    if (p.pin !== undefined && p.pinFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['pkcs11'], message: 'set KMS_PKCS11_PIN or KMS_PKCS11_PIN_FILE, not both' });
    }
    if (c.quotas !== 'off') {
      const known = defaultRequestQuotas(c.region);
      for (const name of Object.keys(c.quotas)) {
        if (!known.has(name)) ctx.addIssue({ code: 'custom', path: ['quotas', name], message: `no request quota is named ${name}; the quotas are ${[...known.keys()].join(', ')}` });
      }
    }
    if ((c.tls.certFile === undefined) !== (c.tls.keyFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'KMS_TLS_CERT_FILE and KMS_TLS_KEY_FILE go together; set both for HTTPS, or neither' });
    }
    if (c.devConveniences && (c.profile !== 'development' || !isLoopback(c.host))) {
      ctx.addIssue({
        code: 'custom',
        path: ['devConveniences'],
        message: `KMS_DEV_CONVENIENCES accepts any access key and deletes keys at once: only in the development profile on a loopback address (here: profile ${c.profile}, host ${c.host})`,
      });
    }
    if (!isLoopback(c.host) && c.tls.certFile === undefined && !c.allowPlaintextHttp) {
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: `listening on ${c.host} without TLS would send secrets (plaintexts, data keys, access keys) in clear: set KMS_TLS_CERT_FILE and KMS_TLS_KEY_FILE, or KMS_ALLOW_PLAINTEXT_HTTP=true to accept that`,
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

type Env = Record<string, string | undefined>;

/** Maps the documented environment variables onto the schema's shape; unset ones stay undefined. */
function fromEnvironment(env: Env) {
  const admin =
    env.KMS_ADMIN_ACCESS_KEY_ID !== undefined || env.KMS_ADMIN_SECRET_ACCESS_KEY !== undefined
      ? { accessKeyId: env.KMS_ADMIN_ACCESS_KEY_ID, secretAccessKey: env.KMS_ADMIN_SECRET_ACCESS_KEY }
      : undefined;
  return prune({
    host: env.KMS_HOST,
    port: env.KMS_PORT,
    operatorPort: env.KMS_OPERATOR_PORT,
    workers: env.KMS_WORKERS,
    dataDir: env.KMS_DATA_DIR,
    region: env.KMS_REGION,
    otherRegions: env.KMS_REGIONS,
    accountId: env.KMS_ACCOUNT_ID,
    logLevel: env.KMS_LOG_LEVEL,
    profile: env.KMS_PROFILE,
    admin,
    pkcs11: {
      module: env.KMS_PKCS11_MODULE,
      tokenLabel: env.KMS_PKCS11_TOKEN_LABEL,
      pin: env.KMS_PKCS11_PIN,
      pinFile: env.KMS_PKCS11_PIN_FILE,
      sessions: env.KMS_PKCS11_SESSIONS,
      sessionWaitMs: env.KMS_PKCS11_SESSION_WAIT_MS,
      maxWaiting: env.KMS_PKCS11_MAX_WAITING,
      callTimeoutMs: env.KMS_PKCS11_CALL_TIMEOUT_MS,
      synchronousSmallOperations: env.KMS_PKCS11_SYNCHRONOUS,
    },
    database: env.KMS_DATABASE,
    metadataCacheTtlMs: env.KMS_METADATA_CACHE_TTL_MS,
    schedulerIntervalMs: env.KMS_SCHEDULER_INTERVAL_MS,
    audit: {
      mode: env.KMS_AUDIT,
      dir: env.KMS_AUDIT_DIR,
      digestIntervalMs: env.KMS_AUDIT_DIGEST_INTERVAL_MS,
      maxFileBytes: env.KMS_AUDIT_MAX_FILE_BYTES,
      maxFileAgeMs: env.KMS_AUDIT_MAX_FILE_AGE_MS,
    },
    keyUsageFlushMs: env.KMS_KEY_USAGE_FLUSH_MS,
    tls: { certFile: env.KMS_TLS_CERT_FILE, keyFile: env.KMS_TLS_KEY_FILE },
    allowPlaintextHttp: env.KMS_ALLOW_PLAINTEXT_HTTP,
    devConveniences: env.KMS_DEV_CONVENIENCES,
    seedFile: env.KMS_SEED_FILE,
    quotas: env.KMS_QUOTAS,
    maxKeysPerAccount: env.KMS_MAX_KEYS_PER_ACCOUNT,
    ivAdvanceToToken: env.KMS_IV_ADVANCE_TO_TOKEN,
  });
}

function prune(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const pruned = prune(v);
    if (pruned !== undefined && !(typeof pruned === 'object' && pruned !== null && Object.keys(pruned).length === 0)) out[k] = pruned;
  }
  return out;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? merge(b, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class ConfigError extends Error {}

/**
 * Reads the configuration: the optional JSON file named by KMS_CONFIG_FILE first,
 * environment variables over it. Throws ConfigError listing every problem.
 */
export async function loadConfig(env: Env): Promise<Config> {
  let fileValues: Record<string, unknown> = {};
  if (env.KMS_CONFIG_FILE) {
    try {
      const parsed: unknown = JSON.parse(await readFile(env.KMS_CONFIG_FILE, 'utf8'));
      if (!isPlainObject(parsed)) throw new Error('not a JSON object');
      fileValues = parsed;
    } catch (e) {
      throw new ConfigError(`cannot read KMS_CONFIG_FILE ${env.KMS_CONFIG_FILE}: ${(e as Error).message}`);
    }
  }
  return parseConfig(merge(fileValues, fromEnvironment(env) as Record<string, unknown>));
}

export function parseConfig(input: unknown): Config {
  const result = ConfigSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data;
  const dataDir = path.resolve(config.dataDir);
  return { ...config, dataDir, audit: { ...config.audit, dir: path.resolve(config.audit.dir ?? path.join(dataDir, 'audit')) } };
}

/** The service's endpoint for a listening address (IPv6 in brackets); https when TLS is configured. */
export function serviceUrl(config: Pick<Config, 'host' | 'tls'>, port: number): string {
  const host = config.host;
  return `${config.tls.certFile === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The configuration with every secret replaced, safe to log. */
export function redactConfig(config: Config): unknown {
  return {
    ...config,
    admin: config.admin ? { accessKeyId: config.admin.accessKeyId, secretAccessKey: '[redacted]' } : undefined,
    pkcs11: { ...config.pkcs11, pin: config.pkcs11.pin === undefined ? undefined : '[redacted]' },
  };
}

/** Every region this deployment answers for: the default one first. */
export function servedRegions(config: Pick<Config, 'region' | 'otherRegions'>): string[] {
  return [...new Set([config.region, ...config.otherRegions])];
}
