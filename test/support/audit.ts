import { readEventsSince, readTrailFiles } from '../../src/audit/file-trail.js';

export { readTrailFiles };

/** Every audit event in the trail, oldest first (open and digest records left out). */
export function auditEvents(dir: string): Promise<Array<Record<string, unknown>>> {
  return readEventsSince(dir, undefined);
}

/** All the trail's bytes, to search for what must never be in it. */
export async function trailBytes(dir: string): Promise<string> {
  return (await readTrailFiles(dir)).map((f) => f.content.toString('utf8')).join('');
}
