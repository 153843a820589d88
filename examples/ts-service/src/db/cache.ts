import Database from 'better-sqlite3';

const db = new Database(process.env.CACHE_PATH ?? 'cache.db');

db.exec(`
  CREATE TABLE IF NOT EXISTS cache_entries (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  )
`);

export function getCached(key: string): string | undefined {
  const row = db.prepare('SELECT value FROM cache_entries WHERE key = ? AND expires_at > ?').get(key, Date.now()) as
    | { value: string }
    | undefined;
  return row?.value;
}

export function putCached(key: string, value: string, ttlMs: number): void {
  db.prepare('INSERT OR REPLACE INTO cache_entries (key, value, expires_at) VALUES (?, ?, ?)').run(key, value, Date.now() + ttlMs);
}

export function purgeExpired(): number {
  return db.prepare('DELETE FROM cache_entries WHERE expires_at <= ?').run(Date.now()).changes;
}
