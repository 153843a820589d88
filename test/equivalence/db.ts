/**
 * Real databases for the equivalence tier: SQLite through better-sqlite3 (in memory),
 * PostgreSQL through PGlite (WebAssembly, no server) and MySQL through mysql2 on a throwaway
 * MariaDB server (./mariadb.ts: Debian's mariadb-server). One seeded schema covers the fixture
 * tables and the property test's tables; every statement runs inside a transaction that is
 * rolled back, and returns its rows, its affected-row count, and a snapshot of the table it wrote.
 */
import Database from 'better-sqlite3';
import { PGlite } from '@electric-sql/pglite';
import * as mysql from 'mysql2/promise';
import { startMariaDb, type MariaDbServer } from './mariadb';

export type Row = Record<string, unknown>;
export interface Outcome {
  rows: Row[];
  affected: number;
  snapshot: Row[];
  error?: string;
}

const SCHEMA = (serial: string, bool: string) => `
CREATE TABLE owners (id INTEGER PRIMARY KEY, name TEXT NOT NULL, active ${bool});
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, status TEXT, owner_id INTEGER, created_at TEXT);
CREATE TABLE jobs (id ${serial} PRIMARY KEY, name TEXT, status TEXT, attempts INTEGER DEFAULT 0, owner_id INTEGER, created_at TEXT, updated_at TEXT, started_at TEXT, finished_at TEXT);
CREATE TABLE runs (id ${serial} PRIMARY KEY, job_id INTEGER, outcome TEXT, finished_at TEXT);
CREATE TABLE users (id ${serial} PRIMARY KEY, email TEXT, name TEXT, display_name TEXT, disabled ${bool} DEFAULT FALSE, deleted_at TEXT);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE tags (id ${serial} PRIMARY KEY, job_id INTEGER, tag TEXT);
CREATE TABLE feeds (id ${serial} PRIMARY KEY, url TEXT UNIQUE, title TEXT);
CREATE TABLE entries (id ${serial} PRIMARY KEY, feed_id INTEGER, title TEXT, url TEXT, is_read INTEGER DEFAULT 0);
CREATE TABLE orders (id ${serial} PRIMARY KEY, customer_id INTEGER, total_cents INTEGER, status TEXT, updated_at TEXT);
CREATE TABLE stock (product_id INTEGER PRIMARY KEY, quantity INTEGER);
`;

/** Tables whose ids the database generates (their counters are put back after each statement). */
export const SERIAL_TABLES = ['jobs', 'runs', 'users', 'tags', 'feeds', 'entries', 'orders'];

/** The jobs table as a planned schema change would leave it (test/equivalence/mapping.test.ts). */
export const TASKS_TABLE = (serial: string) => `CREATE TABLE tasks (id ${serial} PRIMARY KEY, title TEXT, state TEXT, attempts INTEGER DEFAULT 0, owner_id INTEGER, created_at TEXT, updated_at TEXT, started_at TEXT, finished_at TEXT)`;

function seedStatements(): string[] {
  const out: string[] = [];
  const statuses = ['pending', 'running', 'done', 'failed', null];
  const names = ['alpha', 'beta', 'gamma', 'delta', 'Alpha two', 'epsilon', null, 'zeta', 'eta', 'theta'];
  for (let i = 1; i <= 6; i++) out.push(`INSERT INTO owners (id, name, active) VALUES (${i}, 'owner${i}', ${i % 2 === 0 ? 'TRUE' : 'FALSE'})`);
  for (let i = 1; i <= 30; i++) {
    const name = names[i % names.length];
    const status = statuses[i % statuses.length];
    const qty = i % 7 === 0 ? 'NULL' : String((i * 37) % 50 - 10);
    const owner = i % 5 === 0 ? 'NULL' : String((i % 6) + 1);
    out.push(`INSERT INTO items (id, name, qty, status, owner_id, created_at) VALUES (${i}, ${name === null ? 'NULL' : `'${name}'`}, ${qty}, ${status === null ? 'NULL' : `'${status}'`}, ${owner}, '2024-01-${String((i % 28) + 1).padStart(2, '0')}')`);
    out.push(`INSERT INTO jobs (id, name, status, attempts, owner_id, created_at, updated_at) VALUES (${i}, 'job${i}', ${status === null ? "'pending'" : `'${status}'`}, ${i % 4}, ${(i % 6) + 1}, '2024-02-${String((i % 28) + 1).padStart(2, '0')}', '2024-02-01')`);
    if (i % 3 !== 0) out.push(`INSERT INTO runs (id, job_id, outcome, finished_at) VALUES (${i}, ${(i % 10) + 1}, '${i % 2 ? 'ok' : 'failed'}', '2024-03-${String((i % 28) + 1).padStart(2, '0')}')`);
  }
  for (let i = 1; i <= 8; i++) out.push(`INSERT INTO users (id, email, name, display_name, disabled) VALUES (${i}, 'u${i}@example.com', 'user${9 - i}', 'User ${i}', ${i % 3 === 0 ? 'TRUE' : 'FALSE'})`);
  out.push("INSERT INTO settings (key, value) VALUES ('theme', 'dark'), ('lang', 'en')");
  for (let i = 1; i <= 3; i++) out.push(`INSERT INTO feeds (id, url, title) VALUES (${i}, 'https://f${i}.example', 'Feed ${i}')`);
  for (let i = 1; i <= 10; i++) out.push(`INSERT INTO entries (id, feed_id, title, url, is_read) VALUES (${i}, ${(i % 3) + 1}, 'e${i}', 'https://e${i}', ${i % 2})`);
  for (let i = 1; i <= 12; i++) out.push(`INSERT INTO orders (id, customer_id, total_cents, status, updated_at) VALUES (${i}, ${(i % 4) + 1}, ${i * 125}, '${['new', 'shipped', 'cancelled'][i % 3]}', '2024-04-01')`);
  for (let i = 1; i <= 5; i++) out.push(`INSERT INTO stock (product_id, quantity) VALUES (${i}, ${i * 3})`);
  return out;
}

function normaliseRow(r: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(r)) out[k] = typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.toISOString() : v;
  return out;
}

export interface Db {
  dialect: 'sqlite' | 'postgresql' | 'mysql';
  run(sql: string, params: unknown[], table: string | undefined): Promise<Outcome>;
  /** Runs set-up SQL (outside the per-statement transactions). */
  exec(sql: string): Promise<void>;
  /** Tables whose generated ids are put back after each statement. */
  serialTables: string[];
  close(): Promise<void>;
}

export async function openSqlite(): Promise<Db> {
  const db = new Database(':memory:');
  db.exec(SCHEMA('INTEGER', 'INTEGER').replace(/DEFAULT FALSE/g, 'DEFAULT 0'));
  for (const s of seedStatements()) db.exec(s.replace(/\bTRUE\b/g, '1').replace(/\bFALSE\b/g, '0'));
  const bind = (v: unknown) => (typeof v === 'boolean' ? (v ? 1 : 0) : v);
  return {
    dialect: 'sqlite',
    serialTables: [...SERIAL_TABLES],
    async exec(sql) {
      db.exec(sql);
    },
    async run(sql, params, table) {
      db.exec('BEGIN');
      try {
        const st = db.prepare(sql);
        const args = params.map(bind);
        let rows: Row[] = [];
        let affected = 0;
        if (st.reader) rows = (st.all(...args) as Row[]).map(normaliseRow);
        else affected = st.run(...args).changes;
        const snapshot = table ? (db.prepare(`SELECT * FROM ${table} ORDER BY 1`).all() as Row[]).map(normaliseRow) : [];
        return { rows, affected: st.reader ? rows.length : affected, snapshot };
      } catch (e) {
        return { rows: [], affected: 0, snapshot: [], error: (e as Error).message };
      } finally {
        db.exec('ROLLBACK');
      }
    },
    async close() {
      db.close();
    },
  };
}

export async function openPostgres(): Promise<Db> {
  const pg = new PGlite();
  await pg.exec(SCHEMA('SERIAL', 'BOOLEAN'));
  for (const s of seedStatements()) await pg.exec(s);
  const serialTables = [...SERIAL_TABLES];
  return {
    dialect: 'postgresql',
    serialTables,
    async exec(sql) {
      await pg.exec(sql);
    },
    async run(sql, params, table) {
      await pg.exec('BEGIN');
      try {
        const r = await pg.query<Row>(sql, params as unknown[]);
        const snapshot = table ? (await pg.query<Row>(`SELECT * FROM ${table} ORDER BY 1`)).rows.map(normaliseRow) : [];
        return { rows: r.rows.map(normaliseRow), affected: r.affectedRows ?? r.rows.length, snapshot };
      } catch (e) {
        return { rows: [], affected: 0, snapshot: [], error: (e as Error).message };
      } finally {
        await pg.exec('ROLLBACK');
        // Sequences do not roll back: put them back so generated ids match between runs.
        for (const t of serialTables) await pg.query(`SELECT setval(pg_get_serial_sequence('${t}', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM ${t}), false)`);
      }
    },
    async close() {
      await pg.close();
    },
  };
}

/** MySQL's spelling of the shared schema: VARCHAR for keys and unique columns, `key` quoted. */
function mysqlSql(sql: string): string {
  return sql
    .replace(/\bSERIAL\b/g, 'INTEGER AUTO_INCREMENT')
    .replace(/\bTEXT\b/g, 'VARCHAR(191)')
    .replace(/\(key\b/g, '(`key`');
}

/**
 * MySQL on a throwaway MariaDB server (started here, stopped by close()). Statements go through
 * mysql2's `query` (what Knex's mysql2 client uses).
 */
export async function openMysql(): Promise<Db> {
  const server: MariaDbServer = await startMariaDb();
  let conn: mysql.Connection;
  try {
    const admin = await mysql.createConnection({ socketPath: server.socket, user: 'root' });
    await admin.query('CREATE DATABASE equiv');
    await admin.end();
    conn = await mysql.createConnection({ socketPath: server.socket, user: 'root', database: 'equiv', supportBigNumbers: true, dateStrings: true });
    for (const s of SCHEMA('SERIAL', 'BOOLEAN').split(';').map((x) => x.trim()).filter(Boolean)) await conn.query(mysqlSql(s));
    for (const s of seedStatements()) await conn.query(mysqlSql(s));
  } catch (e) {
    await server.stop();
    throw e;
  }
  const serialTables = [...SERIAL_TABLES];
  return {
    dialect: 'mysql',
    serialTables,
    async exec(sql) {
      await conn.query(mysqlSql(sql));
    },
    async run(sql, params, table) {
      await conn.query('START TRANSACTION');
      try {
        const [result] = await conn.query(sql, params as unknown[]);
        const isRows = Array.isArray(result);
        const rows = isRows ? (result as Row[]).map((r) => normaliseRow({ ...r })) : [];
        const affected = isRows ? rows.length : (result as mysql.ResultSetHeader).affectedRows;
        const snapshot = table ? ((await conn.query(`SELECT * FROM ${table} ORDER BY 1`))[0] as Row[]).map((r) => normaliseRow({ ...r })) : [];
        return { rows, affected, snapshot };
      } catch (e) {
        return { rows: [], affected: 0, snapshot: [], error: (e as Error).message };
      } finally {
        await conn.query('ROLLBACK');
        // AUTO_INCREMENT does not roll back: put it back so generated ids match between runs.
        if (table && serialTables.includes(table)) await conn.query(`ALTER TABLE ${table} AUTO_INCREMENT = 1`);
      }
    },
    async close() {
      try {
        await conn.end();
      } finally {
        await server.stop();
      }
    },
  };
}

/** Rows compared as a multiset unless the order is part of the statement's meaning. */
export function sameRows(a: Row[], b: Row[], ordered: boolean): boolean {
  const ja = a.map((r) => JSON.stringify(r));
  const jb = b.map((r) => JSON.stringify(r));
  if (!ordered) {
    ja.sort();
    jb.sort();
  }
  return ja.length === jb.length && ja.every((x, i) => x === jb[i]);
}
