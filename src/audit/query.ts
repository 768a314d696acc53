import { eventKeyIds } from './event.js';
import { parseRecord, splitLines } from './trail-format.js';
import type { TrailFile } from './verify.js';

export type Outcome = 'allowed' | 'denied' | 'error';

export interface QueryFilter {
  readonly from?: Date;
  readonly to?: Date;
  /** A key id, key ARN, alias name or alias ARN (an alias matches the key it named at the time of each event). */
  readonly key?: string;
  /** A principal ARN, user name or access key id. */
  readonly principal?: string;
  readonly operation?: string;
  readonly outcome?: Outcome;
  readonly requestId?: string;
}

export interface FoundEvent {
  readonly seq: number;
  readonly event: Record<string, unknown>;
}

/** Refusals of who the caller is or what it may do; any other error code is an error. */
const DENIALS: ReadonlySet<string> = new Set([
  'AccessDeniedException', 'UnrecognizedClientException', 'InvalidSignatureException', 'IncompleteSignatureException', 'MissingAuthenticationTokenException',
]);

/** A member read from a file as text, whatever its JSON type (the files may have been tampered with). */
function text(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
}

export function outcomeOf(event: Record<string, unknown>): Outcome {
  const code = event.errorCode;
  if (typeof code !== 'string') return 'allowed';
  return DENIALS.has(code) ? 'denied' : 'error';
}

const KEY_ID = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
const ALIAS = /^(?:arn:aws:kms:[^:]*:(\d{12}):)?(alias\/.+)$/;

/**
 * The events of a trail that match every given filter, oldest first. Aliases are
 * followed through the trail's own CreateAlias, UpdateAlias and DeleteAlias
 * events, so an alias names the key it pointed to when each event happened.
 */
export function queryTrail(files: readonly TrailFile[], filter: QueryFilter): FoundEvent[] {
  return queryEvents(eventsOf(files), filter);
}

/**
 * The same over several chains (one per worker): their events merged by time
 * first, so that an alias is followed across them. Each event keeps its own
 * chain's seq.
 */
export function queryTrails(chains: ReadonlyArray<readonly TrailFile[]>, filter: QueryFilter): FoundEvent[] {
  const time = (e: FoundEvent) => Date.parse(text(e.event.eventTime)) || 0;
  // A stable sort: one chain's events keep their order when their times tie.
  return queryEvents(chains.flatMap(eventsOf).sort((a, b) => time(a) - time(b)), filter);
}

function eventsOf(files: readonly TrailFile[]): FoundEvent[] {
  const events: FoundEvent[] = [];
  for (const file of files) {
    for (const line of splitLines(file.content).lines) {
      const record = parseRecord(line.text);
      if (record?.kind === 'event') events.push({ seq: record.seq, event: record.event });
    }
  }
  return events;
}

function queryEvents(events: readonly FoundEvent[], filter: QueryFilter): FoundEvent[] {
  const aliases = new Map<string, string>(); // account/alias name -> key id
  const wantedAlias = filter.key ? ALIAS.exec(filter.key) : null;
  const found: FoundEvent[] = [];
  for (const candidate of events) {
    const event = candidate.event;
    const alias = wantedAlias ? { name: wantedAlias[2]!, targets: targetOf(aliases, wantedAlias[2]!, wantedAlias[1]) } : undefined;
    if (matches(event, filter, alias)) found.push(candidate);
    followAliases(aliases, event);
  }
  return found;
}

function targetOf(aliases: Map<string, string>, aliasName: string, accountId: string | undefined): string[] {
  return [...aliases].filter(([k]) => (accountId ? k === `${accountId}/${aliasName}` : k.endsWith(`/${aliasName}`))).map(([, v]) => v);
}

function matches(event: Record<string, unknown>, f: QueryFilter, alias: { name: string; targets: string[] } | undefined): boolean {
  const time = Date.parse(text(event.eventTime));
  if ((f.from || f.to) && Number.isNaN(time)) return false;
  if (f.from && time < f.from.getTime()) return false;
  if (f.to && time > f.to.getTime()) return false;
  if (f.operation && text(event.eventName).toLowerCase() !== f.operation.toLowerCase()) return false;
  if (f.outcome && outcomeOf(event) !== f.outcome) return false;
  if (f.requestId && event.requestID !== f.requestId) return false;
  if (f.principal) {
    const who = (event.userIdentity ?? {}) as Record<string, unknown> | null;
    if (![who?.arn, who?.userName, who?.accessKeyId].includes(f.principal)) return false;
  }
  if (f.key) {
    const keyIds = eventKeyIds(event);
    const params = Object.values((event.requestParameters ?? {}) as Record<string, unknown>);
    if (alias) return alias.targets.some((k) => keyIds.includes(k)) || params.some((v) => v === alias.name || (typeof v === 'string' && v.endsWith(`:${alias.name}`)));
    const wanted = KEY_ID.exec(f.key)?.[0];
    return wanted !== undefined && keyIds.includes(wanted);
  }
  return true;
}


function followAliases(aliases: Map<string, string>, event: Record<string, unknown>): void {
  if (event.errorCode !== undefined) return;
  const account = text(event.recipientAccountId);
  const params = (event.requestParameters ?? {}) as Record<string, unknown>;
  const name = typeof params.aliasName === 'string' ? params.aliasName : undefined;
  switch (event.eventName) {
    case 'CreateAlias':
    case 'UpdateAlias': {
      const target = typeof params.targetKeyId === 'string' ? KEY_ID.exec(params.targetKeyId)?.[0] : undefined;
      // The target may have been given as another alias' ARN or name; the resources name the key itself.
      const key = target ?? eventKeyIds(event)[0];
      if (name && key) aliases.set(`${account}/${name}`, key);
      break;
    }
    case 'DeleteAlias':
      if (name) aliases.delete(`${account}/${name}`);
      break;
    case 'DeleteKey':
      for (const key of eventKeyIds(event)) for (const [k, v] of aliases) if (v === key) aliases.delete(k);
      break;
  }
}

/** A readable table: time, operation, caller, keys, outcome, request id. */
export function formatTable(events: readonly FoundEvent[]): string {
  const rows = events.map(({ event }) => {
    const who = (event.userIdentity ?? {}) as Record<string, unknown>;
    const caller = text(who.arn ?? who.invokedBy ?? who.accessKeyId ?? '-');
    const outcome = outcomeOf(event);
    return [
      text(event.eventTime),
      text(event.eventName),
      caller,
      eventKeyIds(event).join(',') || '-',
      outcome === 'allowed' ? 'allowed' : `${outcome}: ${text(event.errorCode)}`,
      text(event.requestID ?? '-'),
    ];
  });
  const header = ['TIME', 'OPERATION', 'CALLER', 'KEYS', 'OUTCOME', 'REQUEST ID'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
