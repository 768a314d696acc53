import { readFile } from 'node:fs/promises';
import { resolveAdminCredential } from '../config/admin-credential.js';
import { ConfigError, loadConfig, serviceUrl, type Config } from '../config/config.js';
import { iamArn } from '../domain/principal-arn.js';
import { AdminCallError, AdminConnectionError, callAdmin } from './admin-client.js';
import { AUDIT_USAGE, AuditUsageError, queryCommand, verifyCommand } from './audit-commands.js';

const USAGE = `hsm-kms admin: principals, access keys and identity policies of a running hsm-kms.

Usage: npm run admin -- <command> [arguments] [--account ID] [--format json|env|ini] [--profile NAME] [--endpoint URL]

  create-account ACCOUNT_ID           a new account; prints its root's access key (operator only)
  create-user NAME                    arn:aws:iam::ACCOUNT:user/NAME (ACCOUNT: --account, or the service's)
  create-role NAME                    arn:aws:iam::ACCOUNT:role/NAME
  list                                principals (of --account, or all for the operator)
  disable ARN | enable ARN            a disabled principal's access keys stop working
  delete ARN                          the principal, its access keys and policies
  create-access-key ARN               prints the new access key id and secret (shown once)
  list-access-keys ARN
  disable-access-key ID | enable-access-key ID | delete-access-key ID
  rotate-secret ID                    a new secret for the same access key id (shown once)
  put-policy ARN NAME DOCUMENT        attach an identity policy (DOCUMENT: JSON, or file://path)
  list-policies ARN
  delete-policy ARN NAME
  delete-key-now KEY_ID               a key pending deletion destroyed now (only with KMS_DEV_CONVENIENCES=true)
${AUDIT_USAGE}

The audit commands other than public-key read the trail's files (--trail, default
<data dir>/audit) and need no running service.

It signs with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY when set, otherwise with the
bootstrap administrator's credential (KMS_ADMIN_* or <data dir>/credentials), and
says on stderr which one. The endpoint is http://KMS_HOST:KMS_PORT unless
--endpoint says otherwise. A new access key prints as JSON, as shell exports
(--format env), or as an AWS credentials-file profile (--format ini, named by
--profile, default hsm-kms).

Exit codes: 0 done; 1 refused by the service, or the service not reached (the
message names the URL and the cause); 2 a usage error (unknown command or option).`;

/** Options that take a value, and those that are on or off; anything else is refused. */
const VALUE_OPTIONS: ReadonlySet<string> = new Set([
  'account', 'format', 'profile', 'endpoint', 'trail', 'public-key', 'sealed-through', 'from', 'to', 'key', 'principal', 'operation', 'outcome', 'request-id',
]);
const SWITCHES: ReadonlySet<string> = new Set(['json', 'help']);
const FORMATS: ReadonlySet<string> = new Set(['json', 'env', 'ini']);

interface Parsed {
  readonly command: string | undefined;
  readonly args: string[];
  readonly flags: Map<string, string>;
}

function parseArgs(argv: string[]): Parsed {
  const args: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      args.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    if (SWITCHES.has(name)) {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      flags.set(name, '');
    } else if (VALUE_OPTIONS.has(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
    } else {
      throw new UsageError(`unknown option --${name} (npm run admin -- help lists them)`);
    }
  }
  const format = flags.get('format');
  if (format !== undefined && !FORMATS.has(format)) throw new UsageError(`--format is json, env or ini, not ${format}`);
  return { command: args.shift(), args, flags };
}

function need(args: string[], count: number, usage: string): string[] {
  if (args.length !== count) throw new UsageError(`usage: ${usage}`);
  return args;
}

class UsageError extends Error {}

async function documentOf(value: string): Promise<string> {
  return value.startsWith('file://') ? readFile(value.slice(7), 'utf8') : value;
}

/** The admin operation and its input for one command line. */
async function request(p: Parsed, config: Config): Promise<[string, Record<string, unknown>]> {
  const account = p.flags.get('account') ?? config.accountId;
  const a = p.args;
  switch (p.command) {
    case 'create-account':
      return ['CreateAccount', { AccountId: need(a, 1, 'create-account ACCOUNT_ID')[0] }];
    case 'create-user':
      return ['CreatePrincipal', { Arn: iamArn(account, 'user', need(a, 1, 'create-user NAME')[0]!) }];
    case 'create-role':
      return ['CreatePrincipal', { Arn: iamArn(account, 'role', need(a, 1, 'create-role NAME')[0]!) }];
    case 'list':
      return ['ListPrincipals', { AccountId: p.flags.get('account') }];
    case 'disable':
    case 'enable':
      return ['UpdatePrincipal', { Arn: need(a, 1, `${p.command} ARN`)[0], Enabled: p.command === 'enable' }];
    case 'delete':
      return ['DeletePrincipal', { Arn: need(a, 1, 'delete ARN')[0] }];
    case 'create-access-key':
      return ['CreateAccessKey', { PrincipalArn: need(a, 1, 'create-access-key ARN')[0] }];
    case 'list-access-keys':
      return ['ListAccessKeys', { PrincipalArn: need(a, 1, 'list-access-keys ARN')[0] }];
    case 'disable-access-key':
    case 'enable-access-key':
      return ['UpdateAccessKey', { AccessKeyId: need(a, 1, `${p.command} ID`)[0], Status: p.command === 'enable-access-key' ? 'Active' : 'Inactive' }];
    case 'delete-access-key':
      return ['DeleteAccessKey', { AccessKeyId: need(a, 1, 'delete-access-key ID')[0] }];
    case 'rotate-secret':
      return ['RotateAccessKeySecret', { AccessKeyId: need(a, 1, 'rotate-secret ID')[0] }];
    case 'put-policy': {
      const [arn, name, doc] = need(a, 3, 'put-policy ARN NAME DOCUMENT');
      return ['PutPrincipalPolicy', { PrincipalArn: arn, PolicyName: name, PolicyDocument: await documentOf(doc!) }];
    }
    case 'list-policies':
      return ['ListPrincipalPolicies', { PrincipalArn: need(a, 1, 'list-policies ARN')[0] }];
    case 'audit':
      return ['GetAuditPublicKey', {}];
    case 'delete-key-now':
      return ['DeleteKeyNow', { KeyId: need(a, 1, 'delete-key-now KEY_ID')[0] }];
    case 'delete-policy': {
      const [arn, name] = need(a, 2, 'delete-policy ARN NAME');
      return ['DeletePrincipalPolicy', { PrincipalArn: arn, PolicyName: name }];
    }
    default:
      throw new UsageError(`unknown command ${p.command} (npm run admin -- help lists them)`);
  }
}

function print(output: Record<string, unknown>, format: string | undefined, profile: string): void {
  const key = output.AccessKey as { AccessKeyId: string; SecretAccessKey: string } | undefined;
  if (typeof output.PublicKey === 'string' && format !== 'json') {
    process.stdout.write(output.PublicKey); // audit public-key: the PEM itself, ready for a file
  } else if (format === 'env' && key) {
    process.stdout.write(`export AWS_ACCESS_KEY_ID=${key.AccessKeyId}\nexport AWS_SECRET_ACCESS_KEY=${key.SecretAccessKey}\n`);
  } else if (format === 'ini' && key) {
    // A profile to append to an AWS credentials file (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials).
    process.stdout.write(`[${profile}]\naws_access_key_id = ${key.AccessKeyId}\naws_secret_access_key = ${key.SecretAccessKey}\n`);
  } else {
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  }
}

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed.command === undefined || parsed.command === 'help' || parsed.flags.has('help')) {
    process.stdout.write(`${USAGE}\n`);
    return parsed.command === undefined ? 2 : 0;
  }
  // The CLI is a composition root of its own: it reads the environment once, here.
  const config = await loadConfig(process.env);
  if (parsed.command === 'audit' && parsed.args[0] !== 'public-key') {
    const trail = parsed.flags.get('trail') ?? config.audit.dir!;
    const out = (line: string) => void process.stdout.write(`${line}\n`);
    if (parsed.args[0] === 'verify') return verifyCommand(trail, parsed.flags, out);
    if (parsed.args[0] === 'query') return queryCommand(trail, parsed.flags, out);
    throw new UsageError(`unknown command audit ${parsed.args[0] ?? ''}`.trim());
  }
  const [operation, input] = await request(parsed, config);
  const env = process.env;
  const fromEnvironment = Boolean(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY);
  const credential = fromEnvironment ? { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! } : await resolveAdminCredential(config);
  process.stderr.write(`signing with ${credential.accessKeyId} (${fromEnvironment ? 'AWS_ACCESS_KEY_ID from the environment' : 'the service\'s administrator credential'})\n`);
  const endpoint = parsed.flags.get('endpoint') ?? serviceUrl(config, config.port);
  const output = await callAdmin({ endpoint, region: config.region, ...credential }, operation, input);
  print(output, parsed.flags.get('format'), parsed.flags.get('profile') ?? 'hsm-kms');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof AdminCallError || e instanceof AdminConnectionError || e instanceof AuditUsageError) process.stderr.write(`${e.message}\n`);
    else process.stderr.write(`hsm-kms admin: ${(e as Error).message}\n`);
    process.exit(e instanceof UsageError || e instanceof AuditUsageError ? 2 : 1);
  },
);
