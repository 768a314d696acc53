import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { listTrailFiles } from '../../src/audit/file-trail.js';
import { parseRecord, splitLines } from '../../src/audit/trail-format.js';
import type { TrailFile } from '../../src/audit/verify.js';

/** The trail's files as they are on disk now, in chain order. */
export async function readTrailFiles(dir: string): Promise<TrailFile[]> {
  const names = await listTrailFiles(dir);
  return Promise.all(names.map(async (name) => ({ name, content: await readFile(path.join(dir, name)) })));
}

/** Every audit event in the trail, oldest first (open and digest records left out). */
export async function auditEvents(dir: string): Promise<Array<Record<string, unknown>>> {
  const events: Array<Record<string, unknown>> = [];
  for (const file of await readTrailFiles(dir)) {
    for (const line of splitLines(file.content).lines) {
      const record = parseRecord(line.text);
      if (record?.kind === 'event') events.push(record.event);
    }
  }
  return events;
}

/** All the trail's bytes, to search for what must never be in it. */
export async function trailBytes(dir: string): Promise<string> {
  return (await readTrailFiles(dir)).map((f) => f.content.toString('utf8')).join('');
}
