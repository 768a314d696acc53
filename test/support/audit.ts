import { listTrailChains, readEventsSince, readTrailFiles } from '../../src/audit/file-trail.js';

export { readTrailFiles };

/** Every audit event in the trail, of every chain (one per worker), by time (open and digest records left out). */
export async function auditEvents(dir: string): Promise<Array<Record<string, unknown>>> {
  const chains = await Promise.all((await listTrailChains(dir)).map((chain) => readEventsSince(chain, undefined)));
  if (chains.length === 1) return chains[0]!; // one chain: the order it was written in
  // A stable sort keeps each chain's own order where times tie.
  return chains.flat().sort((a, b) => Date.parse(String(a.eventTime)) - Date.parse(String(b.eventTime)));
}

/** All the trail's bytes, to search for what must never be in it. */
export async function trailBytes(dir: string): Promise<string> {
  return (await readTrailFiles(dir)).map((f) => f.content.toString('utf8')).join('');
}
