import { MalformedPolicyDocumentException } from '../errors.js';
import { compileConditions, RESOURCE_TAG_PREFIX, type CompiledCondition, type ConditionValues, type PolicyReading } from './conditions.js';
import { isRoot, parsePrincipalArn } from '../principal-arn.js';
import { PatternSet } from './wildcard.js';

/** Who is asking, as policies see it. */
export interface PolicyPrincipal {
  readonly arn: string;
  readonly accountId: string;
  /** The principal's immutable unique id (AIDA..., AROA...; the account id for a root), which a namesake never shares. */
  readonly uniqueId?: string;
}

/**
 * The unique id each IAM user and role a key policy names had when the policy
 * was written (as IAM binds them): a principal matches a named ARN only with
 * that id. null: a key policy stored before principals were bound, read so that
 * its named users and roles count in a Deny and never in an Allow.
 */
export type PrincipalBindings = Readonly<Record<string, string>> | null;

/** One request as the policy language sees it. */
export interface PolicyRequest {
  /** e.g. kms:Encrypt */
  readonly action: string;
  /** The key ARN, or * for operations on no key (CreateKey, ListKeys, ...). */
  readonly resource: string;
  readonly principal: PolicyPrincipal;
  readonly conditions: ConditionValues;
}

/**
 * What one policy says of a request. `delegatedAllow`: a key policy allowed the
 * principal's account (its root ARN or account id), which lets that account's
 * identity policies decide (AWS's "Enable IAM User Permissions").
 */
export interface PolicyVerdict {
  readonly deny: boolean;
  readonly allow: boolean;
  readonly delegatedAllow: boolean;
}

const NO_MATCH: PolicyVerdict = { deny: false, allow: false, delegatedAllow: false };

/** 'unconfirmed': named by ARN in a policy whose binding of that ARN is unknown (counts in a Deny only). */
type PrincipalMatch = 'principal' | 'account' | 'unconfirmed' | 'none';

/** The ARNs IAM binds to a unique id: users and roles (a root is its account; sessions are matched by ARN). */
export function isBoundArn(arn: string): boolean {
  const kind = parsePrincipalArn(arn)?.kind;
  return kind === 'user' || kind === 'role';
}

/** A Principal or NotPrincipal element: everyone, whole accounts, or exact ARNs. */
class PrincipalSet {
  private constructor(
    private readonly everyone: boolean,
    private readonly accounts: ReadonlySet<string>,
    private readonly arns: ReadonlySet<string>,
  ) {}

  static parse(element: unknown, name: string): PrincipalSet {
    if (element === '*') return new PrincipalSet(true, new Set(), new Set());
    if (typeof element !== 'object' || element === null || Array.isArray(element)) throw invalidPrincipal(name);
    const accounts = new Set<string>();
    const arns = new Set<string>();
    let everyone = false;
    for (const [kind, value] of Object.entries(element)) {
      const list = stringList(value, name);
      // Service, Federated and CanonicalUser principals are valid but never call this service.
      if (kind === 'Service' || kind === 'Federated' || kind === 'CanonicalUser') continue;
      if (kind !== 'AWS') throw invalidPrincipal(name);
      for (const entry of list) {
        const parsed = parsePrincipalArn(entry);
        if (entry === '*') everyone = true;
        else if (/^\d{12}$/.test(entry)) accounts.add(entry);
        else if (parsed?.kind === 'root') accounts.add(parsed.accountId);
        else if (/^arn:aws:(iam|sts)::\d{12}:[^*?]+$/.test(entry)) arns.add(entry);
        else throw invalidPrincipal(name);
      }
    }
    return new PrincipalSet(everyone, accounts, arns);
  }

  /** The user, role and session ARNs the element names (accounts and * excluded). */
  get namedArns(): ReadonlySet<string> {
    return this.arns;
  }

  /**
   * 'principal' when the element names this caller itself (or everyone, or it is the
   * root of a named account); 'account' when it names the caller's account only.
   */
  match(p: PolicyPrincipal, bindings: PrincipalBindings | undefined): PrincipalMatch {
    if (this.everyone) return 'principal';
    if (this.arns.has(p.arn)) {
      if (bindings === undefined || !isBoundArn(p.arn)) return 'principal';
      const bound = bindings !== null && Object.hasOwn(bindings, p.arn) ? bindings[p.arn] : undefined;
      if (bound === undefined) return 'unconfirmed';
      if (bound === p.uniqueId) return 'principal';
      // A namesake of the principal the policy named: to this statement, a stranger.
    }
    if (this.accounts.has(p.accountId)) return isRoot(p) ? 'principal' : 'account';
    return 'none';
  }
}

function invalidPrincipal(name: string): MalformedPolicyDocumentException {
  return new MalformedPolicyDocumentException(`Policy contains a statement with one or more invalid principals (${name}).`);
}

function stringList(value: unknown, name: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((v): v is string => typeof v === 'string' && v.length > 0)) {
    throw new MalformedPolicyDocumentException(`${name} must be a string or a non-empty list of strings.`);
  }
  return list;
}

interface Statement {
  readonly effect: 'Allow' | 'Deny';
  readonly principal: PrincipalSet | undefined;
  readonly notPrincipal: PrincipalSet | undefined;
  readonly action: PatternSet | undefined;
  readonly notAction: PatternSet | undefined;
  readonly resource: PatternSet | undefined;
  readonly notResource: PatternSet | undefined;
  readonly conditions: readonly CompiledCondition[];
}

const STATEMENT_FIELDS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);
const ACTION = /^(\*|[a-zA-Z0-9-]+:[A-Za-z0-9*?]+)$/;
export const MAX_POLICY_BYTES = 32_768;

export type PolicyKind = 'key' | 'identity';

/**
 * A key policy or identity policy, validated and compiled once; evaluating it is
 * a walk over precompiled matchers with no parsing and no I/O.
 */
export class Policy {
  /** Whether any condition reads aws:ResourceTag/<key> or kms:ResourceAliases, which cost a lookup to gather. */
  readonly readsResourceTags: boolean;
  readonly readsResourceAliases: boolean;

  private constructor(
    readonly statements: readonly Statement[],
    /** The condition keys the policy reads, normalised, so callers gather only those. */
    readonly conditionKeys: ReadonlySet<string>,
    /** Key policies as stored: the unique ids of the users and roles they name; undefined: matched by ARN alone (identity policies, and policies read to validate them). */
    private readonly bindings: PrincipalBindings | undefined,
  ) {
    this.readsResourceTags = [...conditionKeys].some((k) => k.startsWith(RESOURCE_TAG_PREFIX));
    this.readsResourceAliases = conditionKeys.has('kms:resourcealiases');
  }

  /**
   * Throws MalformedPolicyDocumentException with the first problem found. A new
   * policy (being written) may name only condition keys this service decides; a
   * stored one fails closed on others (see PolicyReading).
   */
  static parse(document: string, kind: PolicyKind, reading: PolicyReading = 'stored', bindings?: PrincipalBindings): Policy {
    if (Buffer.byteLength(document, 'utf8') > MAX_POLICY_BYTES) throw new MalformedPolicyDocumentException(`The policy exceeds ${MAX_POLICY_BYTES} bytes.`);
    let doc: unknown;
    try {
      doc = JSON.parse(document);
    } catch {
      throw new MalformedPolicyDocumentException('The policy is not valid JSON.');
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new MalformedPolicyDocumentException('The policy must be a JSON object.');
    const { Version, Id, Statement: statements, ...rest } = doc as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw new MalformedPolicyDocumentException(`Unknown policy element ${Object.keys(rest)[0]}.`);
    if (Version !== undefined && Version !== '2012-10-17' && Version !== '2008-10-17') throw new MalformedPolicyDocumentException('Version must be 2012-10-17 or 2008-10-17.');
    if (Id !== undefined && typeof Id !== 'string') throw new MalformedPolicyDocumentException('Id must be a string.');
    const list = Array.isArray(statements) ? statements : [statements];
    if (statements === undefined || list.length === 0) throw new MalformedPolicyDocumentException('The policy has no Statement.');
    const compiled = list.map((s, i) => parseStatement(s, i, kind, reading));
    const keys = new Set(compiled.flatMap((s) => s.conditions.map((c) => c.key)));
    return new Policy(compiled, keys, kind === 'key' ? bindings : undefined);
  }

  /** The same policy, its named users and roles bound to these unique ids (see PrincipalBindings). */
  bound(bindings: PrincipalBindings): Policy {
    return new Policy(this.statements, this.conditionKeys, bindings);
  }

  /** Every user, role and session ARN named in Principal or NotPrincipal elements. */
  get namedPrincipals(): string[] {
    return [...new Set(this.statements.flatMap((s) => [...(s.principal?.namedArns ?? []), ...(s.notPrincipal?.namedArns ?? [])]))];
  }

  evaluate(request: PolicyRequest): PolicyVerdict {
    let allow = false;
    let delegatedAllow = false;
    for (const s of this.statements) {
      const who = principalMatch(s, request.principal, this.bindings);
      if (who === 'none' || (who === 'unconfirmed' && s.effect === 'Allow')) continue;
      if (!matchesAction(s, request.action) || !matchesResource(s, request.resource)) continue;
      if (!s.conditions.every((c) => c.evaluate(request.conditions))) continue;
      // A Deny naming an account denies every principal of it; an Allow only delegates to its IAM policies.
      if (s.effect === 'Deny') return { deny: true, allow: false, delegatedAllow: false };
      if (who === 'principal') allow = true;
      else delegatedAllow = true;
    }
    return allow || delegatedAllow ? { deny: false, allow, delegatedAllow } : NO_MATCH;
  }
}

function principalMatch(s: Statement, p: PolicyPrincipal, bindings: PrincipalBindings | undefined): PrincipalMatch {
  if (s.principal) return s.principal.match(p, bindings);
  // NotPrincipal: every principal the list does not name; a listed account spares its root only.
  if (s.notPrincipal) return s.notPrincipal.match(p, bindings) === 'principal' ? 'none' : 'principal';
  return 'principal'; // identity policies apply to the principal they are attached to
}

function matchesAction(s: Statement, action: string): boolean {
  return s.action ? s.action.matches(action) : !s.notAction!.matches(action);
}

function matchesResource(s: Statement, resource: string): boolean {
  return s.resource ? s.resource.matches(resource) : !s.notResource!.matches(resource);
}

function parseStatement(raw: unknown, index: number, kind: PolicyKind, reading: PolicyReading): Statement {
  const where = `Statement ${index + 1}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new MalformedPolicyDocumentException(`${where} must be an object.`);
  const s = raw as Record<string, unknown>;
  const unknown = Object.keys(s).find((k) => !STATEMENT_FIELDS.has(k));
  if (unknown) throw new MalformedPolicyDocumentException(`${where} has an unknown element ${unknown}.`);
  if (s.Sid !== undefined && typeof s.Sid !== 'string') throw new MalformedPolicyDocumentException(`${where}: Sid must be a string.`);
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new MalformedPolicyDocumentException(`${where}: Effect must be Allow or Deny.`);
  const exactlyOne = (a: string, b: string) => {
    if ((s[a] === undefined) === (s[b] === undefined)) throw new MalformedPolicyDocumentException(`${where} must have exactly one of ${a} and ${b}.`);
  };
  if (kind === 'key') exactlyOne('Principal', 'NotPrincipal');
  else if (s.Principal !== undefined || s.NotPrincipal !== undefined) throw new MalformedPolicyDocumentException(`${where}: an identity policy has no Principal.`);
  exactlyOne('Action', 'NotAction');
  exactlyOne('Resource', 'NotResource');
  const actions = (name: string) => {
    if (s[name] === undefined) return undefined;
    const list = stringList(s[name], `${where}: ${name}`);
    const bad = list.find((a) => !ACTION.test(a));
    if (bad) throw new MalformedPolicyDocumentException(`${where}: ${bad} is not a valid action.`);
    return new PatternSet(list, true); // action names are case-insensitive
  };
  const resources = (name: string) => (s[name] === undefined ? undefined : new PatternSet(stringList(s[name], `${where}: ${name}`), false));
  return {
    effect: s.Effect,
    principal: s.Principal === undefined ? undefined : PrincipalSet.parse(s.Principal, `${where}: Principal`),
    notPrincipal: s.NotPrincipal === undefined ? undefined : PrincipalSet.parse(s.NotPrincipal, `${where}: NotPrincipal`),
    action: actions('Action'),
    notAction: actions('NotAction'),
    resource: resources('Resource'),
    notResource: resources('NotResource'),
    conditions: compileConditions(s.Condition, s.Effect, reading),
  };
}

/**
 * The policy document with some principals named otherwise in its Principal and
 * NotPrincipal elements (how AWS shows a deleted principal: by its unique id).
 */
export function renamePrincipals(document: string, renames: ReadonlyMap<string, string>): string {
  const doc = JSON.parse(document) as { Statement?: unknown };
  const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  const rename = (v: unknown) => (typeof v === 'string' ? (renames.get(v) ?? v) : v);
  for (const s of statements as Array<Record<string, unknown> | null>) {
    for (const element of ['Principal', 'NotPrincipal']) {
      const p = s?.[element] as Record<string, unknown> | undefined;
      if (typeof p !== 'object' || p === null || !Object.hasOwn(p, 'AWS')) continue;
      p.AWS = Array.isArray(p.AWS) ? p.AWS.map(rename) : rename(p.AWS);
    }
  }
  return JSON.stringify(doc);
}
