import type Database from 'better-sqlite3';
import type { KeyLastUse, KeyUsageStore } from '../services/access/access-ports.js';
import { flushedAtSetting } from './rows.js';


interface UsageRow {
  operation: string;
  used_at: number;
  event_id: string;
  request_id: string;
}

export class SqliteKeyUsageStore implements KeyUsageStore {
  private readonly stmt;
  private readonly record: (usages: ReadonlyMap<string, KeyLastUse>, flushedAt: Date, writer: string) => void;

  constructor(db: Database.Database) {
    this.stmt = {
      upsert: db.prepare(`INSERT INTO key_last_usage (key_id, operation, used_at, event_id, request_id) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (key_id) DO UPDATE SET operation = excluded.operation, used_at = excluded.used_at,
          event_id = excluded.event_id, request_id = excluded.request_id
        WHERE excluded.used_at >= key_last_usage.used_at`),
      get: db.prepare('SELECT operation, used_at, event_id, request_id FROM key_last_usage WHERE key_id = ?'),
      setting: db.prepare('SELECT value FROM service_settings WHERE name = ?'),
      putSetting: db.prepare('INSERT INTO service_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value'),
    };
    this.record = db.transaction((usages: ReadonlyMap<string, KeyLastUse>, flushedAt: Date, writer: string) => {
      for (const [keyId, u] of usages) this.stmt.upsert.run(keyId, u.operation, u.timestamp.getTime(), u.eventId, u.requestId);
      this.stmt.putSetting.run(flushedAtSetting(writer), String(flushedAt.getTime()));
    });
  }

  async recordUsage(usages: ReadonlyMap<string, KeyLastUse>, flushedAt: Date, writer: string): Promise<void> {
    this.record(usages, flushedAt, writer);
  }

  async flushedAt(writer: string): Promise<Date | undefined> {
    const r = this.stmt.setting.get(flushedAtSetting(writer)) as { value: string } | undefined;
    return r && new Date(Number(r.value));
  }

  async lastUsage(keyId: string): Promise<KeyLastUse | undefined> {
    const r = this.stmt.get.get(keyId) as UsageRow | undefined;
    return r && { operation: r.operation, timestamp: new Date(r.used_at), eventId: r.event_id, requestId: r.request_id };
  }

  async trackingStart(): Promise<Date> {
    const r = this.stmt.setting.get('key_usage_tracking_started_at') as { value: string };
    return new Date(Number(r.value));
  }
}
