import { readFile } from 'node:fs/promises';
import { resolveAdminCredential } from '../config/admin-credential.js';
import { ConfigError, loadConfig, serviceUrl, type Config } from '../config/config.js';
import { iamArn } from '../domain/principal-arn.js';
import { AdminCallError, callAdmin } from './admin-client.js';
import { AUDIT_USAGE, AuditUsageError, queryCommand, verifyCommand } from './audit-commands.js';

const USAGE = `hsm-kms admin: principals, access keys and identity policies of a running hsm-kms.

Usage: npm run admin -- <command> [arguments] [--account ID] [--format json|env] [--endpoint URL]

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
${AUDIT_USAGE}

The audit commands other than public-key read the trail's files (--trail, default
<data dir>/audit) and need no running service.

It signs with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY when set, otherwise with the
bootstrap administrator's credential (KMS_ADMIN_* or <data dir>/credentials).
The endpoint is http://KMS_HOST:KMS_PORT unless --endpoint says otherwise.
--format env prints a new access key as shell exports.`;

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
    if (a.startsWith('--')) {
      const [name, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
      flags.set(name, inline ?? argv[++i] ?? '');
    } else args.push(a);
  }
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
    case 'delete-policy': {
      const [arn, name] = need(a, 2, 'delete-policy ARN NAME');
      return ['DeletePrincipalPolicy', { PrincipalArn: arn, PolicyName: name }];
    }
    default:
      throw new UsageError(USAGE);
  }
}

function print(output: Record<string, unknown>, format: string | undefined): void {
  const key = output.AccessKey as { AccessKeyId: string; SecretAccessKey: string } | undefined;
  if (typeof output.PublicKey === 'string' && format !== 'json') {
    process.stdout.write(output.PublicKey); // audit public-key: the PEM itself, ready for a file
  } else if (format === 'env' && key) {
    process.stdout.write(`export AWS_ACCESS_KEY_ID=${key.AccessKeyId}\nexport AWS_SECRET_ACCESS_KEY=${key.SecretAccessKey}\n`);
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
    throw new UsageError(USAGE);
  }
  const [operation, input] = await request(parsed, config);
  const env = process.env;
  const credential =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY }
      : await resolveAdminCredential(config);
  const endpoint = parsed.flags.get('endpoint') ?? serviceUrl(config, config.port);
  const output = await callAdmin({ endpoint, region: config.region, ...credential }, operation, input);
  print(output, parsed.flags.get('format'));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof AdminCallError || e instanceof AuditUsageError) process.stderr.write(`${e.message}\n`);
    else process.stderr.write(`hsm-kms admin: ${(e as Error).message}\n`);
    process.exit(e instanceof UsageError || e instanceof AuditUsageError ? 2 : 1);
  },
);
