import { isIP } from 'node:net';
import { MalformedPolicyDocumentException } from '../errors.js';
import { wildcardRegex } from './wildcard.js';

/**
 * The values of a request's condition keys, by normalised key name (see
 * normalizeConditionKey). A single-valued key holds one value; an absent key has
 * no entry.
 */
export interface ConditionValues {
  get(normalizedKey: string): readonly string[] | undefined;
}

export const ENCRYPTION_CONTEXT_PREFIX = 'kms:encryptioncontext:';
export const RESOURCE_TAG_PREFIX = 'aws:resourcetag/';
export const REQUEST_TAG_PREFIX = 'aws:requesttag/';

/**
 * The kms: and aws: condition keys this service fills from a request, where the
 * operation has them (normalised). A policy may name no other: a condition on a
 * key that is never filled never matches, so a Deny naming it would never apply.
 */
export const FILLED_CONDITION_KEYS: ReadonlySet<string> = new Set([
  'aws:currenttime', 'aws:epochtime', 'aws:principalaccount', 'aws:principalarn', 'aws:securetransport', 'aws:sourceip', 'aws:tagkeys',
  'kms:calleraccount', 'kms:datakeypairspec', 'kms:encryptionalgorithm', 'kms:encryptioncontextkeys', 'kms:grantconstrainttype',
  'kms:granteeprincipal', 'kms:grantisforawsresource', 'kms:grantoperations', 'kms:keyorigin', 'kms:keyspec', 'kms:keyusage',
  'kms:macalgorithm', 'kms:messagetype', 'kms:requestalias', 'kms:resourcealiases', 'kms:retiringprincipal', 'kms:signingalgorithm',
  'kms:trailingdayswithoutkeyusage', 'kms:schedulekeydeletionpendingwindowindays', 'kms:bypasspolicylockoutsafetycheck',
  'kms:rotationperiodindays', 'kms:wrappingalgorithm', 'kms:wrappingkeyspec', 'kms:expirationmodel', 'kms:validto',
  'kms:customermasterkeyspec', 'kms:customermasterkeyusage', 'aws:requestedregion', 'aws:username', 'kms:reencryptonsamekey',
  'aws:principaltype', 'aws:userid', 'kms:keyagreementalgorithm', 'kms:multiregion', 'kms:multiregionkeytype', 'kms:replicaregion',
  'kms:primaryregion',
  // Absent on every request, as AWS has it on a call made directly rather than through an AWS service.
  'kms:viaservice',
]);
/**
 * aws:PrincipalTag/<key>: principals here carry no tags (there is no API to tag
 * them), so each is absent, as for an untagged IAM principal in AWS.
 */
export const PRINCIPAL_TAG_PREFIX = 'aws:principaltag/';
const FILLED_CONDITION_KEY_PREFIXES = [ENCRYPTION_CONTEXT_PREFIX, RESOURCE_TAG_PREFIX, REQUEST_TAG_PREFIX, PRINCIPAL_TAG_PREFIX];

/** Whether a condition on this (normalised) key can ever be decided: another service's key (s3:, ec2:) never applies to KMS, as in AWS. */
export function isKnownConditionKey(key: string): boolean {
  if (!key.startsWith('kms:') && !key.startsWith('aws:')) return true;
  return FILLED_CONDITION_KEYS.has(key) || FILLED_CONDITION_KEY_PREFIXES.some((p) => p.length < key.length && key.startsWith(p));
}

/**
 * How a policy is read: one being written (PutKeyPolicy, CreateKey, an identity
 * policy) is refused when it names a condition key this service cannot decide;
 * one already stored (written before this check) is evaluated failing closed: a
 * condition on such a key holds in a Deny and never in an Allow.
 */
export type PolicyReading = 'new' | 'stored';

/**
 * Condition key names are not case-sensitive, including the context-key part of
 * kms:EncryptionContext:<context-key> (AWS KMS condition keys); values are, as
 * the operator decides.
 */
export function normalizeConditionKey(name: string): string {
  return name.toLowerCase();
}

type ValueTest = (requestValue: string) => boolean;

interface OperatorSpec {
  /** NotEquals-style operators: true when the request value matches none of the policy's values. */
  readonly negated: boolean;
  /** Turns one policy value into a test of request values; throws on a value the operator cannot use. */
  readonly compile: (policyValue: string) => ValueTest;
}

const stringEquals = (p: string): ValueTest => (v) => v === p;
const stringEqualsIgnoreCase = (p: string): ValueTest => {
  const lower = p.toLowerCase();
  return (v) => v.toLowerCase() === lower;
};
const stringLike = (p: string): ValueTest => {
  const re = wildcardRegex(p);
  return (v) => re.test(v);
};

function parseNumber(s: string): number | undefined {
  if (!/^-?\d+(\.\d+)?$/.test(s.trim())) return undefined;
  return Number(s);
}


/** IAM dates: ISO 8601 (date or date-time) or epoch seconds. */
function parseDate(s: string): number | undefined {
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  if (!/^\d{4}-\d{2}-\d{2}/.test(s)) return undefined;
  // A time without a zone is UTC, never the server's local time.
  const t = Date.parse(/T[\d:.]+$/.test(s) ? `${s}Z` : s);
  return Number.isNaN(t) ? undefined : t;
}

/** An operator comparing parsed values (numbers, dates); a policy value that does not parse is malformed. */
function comparing(parse: (s: string) => number | undefined, what: string) {
  return (compare: (a: number, b: number) => boolean) =>
    (p: string): ValueTest => {
      const policy = parse(p);
      if (policy === undefined) throw new Error(`${p} is not ${what}`);
      return (v) => {
        const n = parse(v);
        return n !== undefined && compare(n, policy);
      };
    };
}

const numeric = comparing(parseNumber, 'a number');
const date = comparing(parseDate, 'a date');

const bool = (p: string): ValueTest => {
  const lower = p.toLowerCase();
  if (lower !== 'true' && lower !== 'false') throw new Error(`${p} is not a boolean`);
  return (v) => v.toLowerCase() === lower;
};

const binaryEquals = (p: string): ValueTest => {
  const policy = Buffer.from(p, 'base64');
  return (v) => Buffer.from(v, 'base64').equals(policy);
};

function ipBytes(address: string): Buffer | undefined {
  const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  const family = isIP(plain);
  if (family === 4) return Buffer.from(plain.split('.').map(Number));
  if (family !== 6) return undefined;
  const [head, tail] = plain.split('::') as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const words = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(parseInt(w, 16), i * 2));
  return out;
}

/** IpAddress: an address or CIDR block, IPv4 or IPv6. */
const ipAddress = (p: string): ValueTest => {
  const [addr, bitsText] = p.split('/') as [string, string | undefined];
  const network = ipBytes(addr);
  const bits = bitsText === undefined ? (network?.length ?? 0) * 8 : Number(bitsText);
  if (!network || !Number.isInteger(bits) || bits < 0 || bits > network.length * 8) throw new Error(`${p} is not an IP address or CIDR block`);
  return (v) => {
    const candidate = ipBytes(v);
    if (!candidate || candidate.length !== network.length) return false;
    for (let bit = 0; bit < bits; bit += 8) {
      const take = Math.min(8, bits - bit);
      const mask = (0xff << (8 - take)) & 0xff;
      if ((candidate[bit / 8]! & mask) !== (network[bit / 8]! & mask)) return false;
    }
    return true;
  };
};

/** ArnEquals and ArnLike both match the six colon-separated parts, each with wildcards. */
const arnLike = (p: string): ValueTest => {
  const parts = p.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') throw new Error(`${p} is not an ARN`);
  const head = parts.slice(0, 5).map((s) => wildcardRegex(s));
  const resource = wildcardRegex(parts.slice(5).join(':'));
  return (v) => {
    const vs = v.split(':');
    if (vs.length < 6) return false;
    return head.every((re, i) => re.test(vs[i]!)) && resource.test(vs.slice(5).join(':'));
  };
};

const OPERATORS: Readonly<Record<string, OperatorSpec>> = {
  StringEquals: { negated: false, compile: stringEquals },
  StringNotEquals: { negated: true, compile: stringEquals },
  StringEqualsIgnoreCase: { negated: false, compile: stringEqualsIgnoreCase },
  StringNotEqualsIgnoreCase: { negated: true, compile: stringEqualsIgnoreCase },
  StringLike: { negated: false, compile: stringLike },
  StringNotLike: { negated: true, compile: stringLike },
  NumericEquals: { negated: false, compile: numeric((a, b) => a === b) },
  NumericNotEquals: { negated: true, compile: numeric((a, b) => a === b) },
  NumericLessThan: { negated: false, compile: numeric((a, b) => a < b) },
  NumericLessThanEquals: { negated: false, compile: numeric((a, b) => a <= b) },
  NumericGreaterThan: { negated: false, compile: numeric((a, b) => a > b) },
  NumericGreaterThanEquals: { negated: false, compile: numeric((a, b) => a >= b) },
  DateEquals: { negated: false, compile: date((a, b) => a === b) },
  DateNotEquals: { negated: true, compile: date((a, b) => a === b) },
  DateLessThan: { negated: false, compile: date((a, b) => a < b) },
  DateLessThanEquals: { negated: false, compile: date((a, b) => a <= b) },
  DateGreaterThan: { negated: false, compile: date((a, b) => a > b) },
  DateGreaterThanEquals: { negated: false, compile: date((a, b) => a >= b) },
  Bool: { negated: false, compile: bool },
  BinaryEquals: { negated: false, compile: binaryEquals },
  IpAddress: { negated: false, compile: ipAddress },
  NotIpAddress: { negated: true, compile: ipAddress },
  ArnEquals: { negated: false, compile: arnLike },
  ArnNotEquals: { negated: true, compile: arnLike },
  ArnLike: { negated: false, compile: arnLike },
  ArnNotLike: { negated: true, compile: arnLike },
};

/** One operator applied to one condition key, ready to evaluate. */
export interface CompiledCondition {
  readonly key: string;
  evaluate(values: ConditionValues): boolean;
}

const OPERATOR_NAME = /^(?:(ForAnyValue|ForAllValues):)?([A-Za-z]+?)(IfExists)?$/;

function policyValues(operator: string, key: string, raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new MalformedPolicyDocumentException(`Condition ${operator} ${key} has no value.`);
  return list.map((v) => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new MalformedPolicyDocumentException(`Condition ${operator} ${key} must have string, number or boolean values.`);
  });
}

function compileNull(key: string, values: string[]): CompiledCondition {
  const wants = values.map((v) => {
    const lower = v.toLowerCase();
    if (lower !== 'true' && lower !== 'false') throw new MalformedPolicyDocumentException(`Null ${key} takes true or false.`);
    return lower === 'true';
  });
  // Null true: the key is absent (or an empty set); Null false: it is present.
  return { key, evaluate: (ctx) => wants.some((absent) => (ctx.get(key)?.length ?? 0) === 0 === absent) };
}

/**
 * Compiles a policy statement's Condition block. Its operators, the keys under
 * each operator and the blocks themselves are ANDed; several values for one key
 * are ORed (NORed for the negated operators).
 */
export function compileConditions(block: unknown, effect: 'Allow' | 'Deny', reading: PolicyReading): CompiledCondition[] {
  if (block === undefined) return [];
  if (typeof block !== 'object' || block === null || Array.isArray(block)) throw new MalformedPolicyDocumentException('Condition must be an object.');
  const out: CompiledCondition[] = [];
  for (const [operator, keys] of Object.entries(block)) {
    const m = OPERATOR_NAME.exec(operator);
    // Own properties only: an operator named `constructor` or `toString` is unknown, not Object's.
    const spec = m && Object.hasOwn(OPERATORS, m[2]!) ? OPERATORS[m[2]!] : undefined;
    const isNull = m?.[2] === 'Null' && !m[1] && !m[3];
    if (!m || (!spec && !isNull)) throw new MalformedPolicyDocumentException(`Unknown condition operator ${operator}.`);
    if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) throw new MalformedPolicyDocumentException(`Condition ${operator} must map condition keys to values.`);
    for (const [rawKey, raw] of Object.entries(keys)) {
      const key = normalizeConditionKey(rawKey);
      const values = policyValues(operator, rawKey, raw);
      if (!isKnownConditionKey(key)) {
        if (reading === 'new') throw new MalformedPolicyDocumentException(`Condition key ${rawKey} is not supported by this service: a condition on it could never be decided.`);
        out.push({ key, evaluate: () => effect === 'Deny' });
        continue;
      }
      if (m[1] === 'ForAllValues' && key.startsWith(ENCRYPTION_CONTEXT_PREFIX)) {
        // AWS KMS refuses this as OverlyPermissiveCondition: it holds when the context lacks the key.
        throw new MalformedPolicyDocumentException(`ForAllValues cannot be used with the single-valued ${rawKey} (OverlyPermissiveCondition).`);
      }
      if (isNull) {
        out.push(compileNull(key, values));
        continue;
      }
      let tests: ValueTest[];
      try {
        tests = values.map((v) => spec!.compile(v));
      } catch (e) {
        throw new MalformedPolicyDocumentException(`Condition ${operator} ${rawKey}: ${(e as Error).message}.`);
      }
      out.push(keyCondition(key, spec!.negated, m[1] as 'ForAnyValue' | 'ForAllValues' | undefined, m[3] !== undefined, tests));
    }
  }
  return out;
}

function keyCondition(key: string, negated: boolean, set: 'ForAnyValue' | 'ForAllValues' | undefined, ifExists: boolean, tests: ValueTest[]): CompiledCondition {
  const matches = negated ? (v: string) => !tests.some((t) => t(v)) : (v: string) => tests.some((t) => t(v));
  return {
    key,
    evaluate(ctx) {
      const values = ctx.get(key);
      const present = values !== undefined && values.length > 0;
      if (set === 'ForAllValues') return !present || values.every(matches);
      if (set === 'ForAnyValue') return present && values.some(matches);
      // IAM: an absent key matches nothing, so a negated operator holds; IfExists makes any operator hold.
      if (!present) return ifExists || negated;
      // A single-valued operator on a multivalued key acts as ForAnyValue (AWS leaves it undefined and warns).
      return values.some(matches);
    },
  };
}
